#!/usr/bin/env bash
# t1000: the heap tracker (libkiln-heap.so, LD_PRELOAD) on the programs of
# tests/heap/: the host's output and exit code are unchanged, and the trace
# decodes (tests/heap/heapcheck.py, an independent decoder) with exact
# counts, every thread, stacks naming the right functions, bad frees, fork,
# exec, dlopen, signals, abort, _exit and SIGKILL (a readable prefix); the
# tracker's unwinder gives libunwind's stacks.
. "$(dirname "$0")/lib.sh"

HEAP_LIB=${HEAP_LIB:-$ROOT/build/libkiln-heap.so}
HT=${HEAP_TESTS:-$ROOT/build/heap-tests}
CHECK=$ROOT/tests/heap/heapcheck.py
[ -f "$HEAP_LIB" ] || skip_all "$HEAP_LIB not built"
[ -x "$HT/heap-basic" ] || skip_all "heap test programs not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to decode traces"
plan 47

cd "$TMP" || exit 1
n=0
# traced NAME ARGS...: run with and without the tracker in a fresh dir;
# sets $dir, $rc (traced) and $rc0 (plain); stdout in $dir/out, $dir/out0
traced() {
	n=$((n + 1)); dir=$TMP/run$n; mkdir -p "$dir"
	{ ( cd "$dir" && exec env "${ENVV[@]}" LD_PRELOAD="$HEAP_LIB" "$HT/$@" >out 2>err ); } 2>/dev/null; rc=$?
	{ ( cd "$dir" && exec "$HT/$@" >out0 2>err0 ); } 2>/dev/null; rc0=$?
	ENVV=()
}
ENVV=()
# same_run DESC: stdout and exit code as without the tracker
same_run() {
	if [ "$rc" = "$rc0" ] && cmp -s "$dir/out" "$dir/out0"; then ok "$1: output and exit code ($rc) unchanged"
	else not_ok "$1: exit $rc vs $rc0"; diag "$(diff "$dir/out0" "$dir/out" | head)" "$(head -5 "$dir/err")"; fi
}
# decode FILE [BINARY]: the checker's facts in $dir/facts
decode() { python3 "$CHECK" "$@" >"$dir/facts" 2>"$dir/check.err"; }
fact() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$dir/facts"; }
has() { grep -qxF "$1" "$dir/facts"; }
want() { # want DESC FACT VALUE
	local got; got=$(fact "$2")
	if [ "$got" = "$3" ]; then ok "$1"; else not_ok "$1: $2 is '$got', want '$3'"; diag "$(head -c 1500 "$dir/check.err")"; fi
}
want_line() { if has "$2"; then ok "$1"; else not_ok "$1: no line '$2'"; diag "$(grep -E '^(site|leak|end|complete)' "$dir/facts" | head -20)" "$(head -c 800 "$dir/check.err")"; fi; }
one_trace() { set -- "$dir"/kiln-heap.*.trace; [ -f "$1" ] && [ $# = 1 ] && echo "$1"; }

# basic: exact counts and bytes per function, stacks through nm
traced heap-basic
same_run heap-basic
t=$(one_trace)
if [ -n "$t" ] && [ "$(head -c 8 "$t")" = KILNHEAP ]; then ok "heap-basic: one trace, starts with KILNHEAP"; else not_ok "heap-basic: trace missing"; ls -la "$dir"; fi
decode "$t" "$HT/heap-basic"
want "heap-basic: decodes completely" complete 1
want_line "heap-basic: basic_allocs: 9 allocations, 2188 bytes" "site _start;main;basic_allocs 9 2188"
want_line "heap-basic: loop_allocs: 1000 allocations, 500500 bytes" "site _start;main;loop_allocs 1000 500500"
want_line "heap-basic: leak_77 is the one leak of the program's own" "leak _start;main;leak_77 1 77"
if ! grep -q '^leak .*\(basic_allocs\|loop_allocs\)' "$dir/facts"; then ok "heap-basic: every other block was freed"; else not_ok "heap-basic: frees missing"; fi
want "heap-basic: HT_END with main's return value" end "1:7"
want "heap-basic: no bad frees" bad_free 0

# threads: all 64 threads' allocations, names
traced heap-threads
same_run heap-threads
decode "$(one_trace)" "$HT/heap-threads"
want_line "heap-threads: 6400 allocations, 1664000 bytes from thread_work" "site run;thread_work 6400 1664000"
if ! grep -q '^leak run;thread_work' "$dir/facts"; then ok "heap-threads: all freed"; else not_ok "heap-threads: frees lost"; fi
names=$(fact thread_names | tr ',' '\n' | grep -c '^heapw')
if [ "$names" = 64 ]; then ok "heap-threads: 64 thread names"; else not_ok "heap-threads: $names thread names"; fi
tids=$(fact alloc_tids)
if [ "$tids" -ge 64 ]; then ok "heap-threads: $tids allocating threads"; else not_ok "heap-threads: $tids allocating threads"; fi

# edge cases: results and errno as without the tracker
traced heap-edge
same_run heap-edge
decode "$(one_trace)"
want "heap-edge: no bad frees from free(NULL), realloc(p, 0), failures" bad_free 0

# dlopen: a library loaded later is reported and its frames resolve
traced heap-dlopen
same_run heap-dlopen
decode "$(one_trace)"
if grep -q 'no libexpat' "$dir/out0"; then skip "libexpat not installed"
elif grep -qE '^module .*libexpat\.so\.1 [1-9]' "$dir/facts"; then ok "heap-dlopen: libexpat reported after dlopen, with stack frames in it"
else not_ok "heap-dlopen: no libexpat module with frames"; diag "$(grep ^module "$dir/facts")"; fi

# signals
traced heap-signal sync
same_run "heap-signal sync"
decode "$(one_trace)" "$HT/heap-signal"
want_line "heap-signal: 100 allocations in the handler" "site _start;main;handler;sig_alloc 100 2400"
traced heap-signal async
same_run "heap-signal async (2000 signals while allocating)"

# the ways to end
traced heap-exit exit
same_run "heap-exit exit"
decode "$(one_trace)"; want "exit(3): HT_END with status 3" end "1:3"
traced heap-exit _exit
same_run "heap-exit _exit"
decode "$(one_trace)"; want "_exit: the trace is readable (no HT_END)" complete 1
traced heap-exit abort
same_run "heap-exit abort"
decode "$(one_trace)"; want "abort: HT_END(signal 6)" end "3:6"
traced heap-exit assert
same_run "heap-exit assert"
decode "$(one_trace)"; want "assert: HT_END(signal 6)" end "3:6"
traced heap-exit double
same_run "heap-exit double (glibc aborts)"
decode "$(one_trace)"; want "double free recorded before glibc aborts" double_free 1
traced heap-exit unknown
same_run "heap-exit unknown pointer"
decode "$(one_trace)"; want "free of an unknown pointer recorded" bad_free 1

# SIGKILL mid-run: wait until the flush thread wrote the allocations (no
# fixed sleep), then kill -9; the trace must decode
n=$((n + 1)); dir=$TMP/run$n; mkdir -p "$dir"
( cd "$dir" && exec env LD_PRELOAD="$HEAP_LIB" "$HT/heap-exit" hold >out 2>err ) & pid=$!
got=0
for _ in $(seq 1 600); do
	t=$(one_trace)
	if [ -n "$t" ] && grep -q ready "$dir/out" 2>/dev/null && decode "$t" "$HT/heap-exit" &&
	   grep -qx 'site _start;main;hold_allocs 1000 16000' "$dir/facts"; then got=1; break; fi
	sleep 0.05
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
decode "$(one_trace)" "$HT/heap-exit"
if [ "$got" = 1 ] && [ "$(fact complete)" = 1 ] && [ "$(fact end)" = none ]; then
	ok "SIGKILL: the trace decodes, with the 1000 allocations made before the kill"
else not_ok "SIGKILL: got=$got"; diag "$(head -5 "$dir/facts")" "$(cat "$dir/check.err")"; fi

# fork + exec, followed: three traces (parent, child until exec, new image)
ENVV=(KILN_HEAP_FOLLOW=1)
traced heap-fork
same_run "heap-fork (followed)"
count=$(ls "$dir"/kiln-heap.*.trace* 2>/dev/null | wc -l)
if [ "$count" = 3 ]; then ok "followed fork+exec: 3 traces"; else not_ok "followed fork+exec: $count traces"; ls "$dir"; fi
all=""
for f in "$dir"/kiln-heap.*.trace*; do
	python3 "$CHECK" "$f" "$HT/heap-fork" >"$dir/f.facts" 2>&1
	all="$all $(awk '$1 == "flags" { printf "f%s", $2 } $1 == "end" { printf ":%s", $2 } $1 == "site" && $2 ~ /_work;work$/ { sub(/;work$/, "", $2); sub(/.*;/, "", $2); printf ":%s=%s", $2, $3 }' "$dir/f.facts")"
done
all=$(echo $all | tr ' ' '\n' | sort | tr '\n' ' ')
if [ "$all" = "f0:1:0:exec_work=3 f0:1:0:parent_work=5 f2:2:0:child_work=10 " ]; then ok "followed: parent, child (flag, HT_END exec), new image"
else not_ok "followed traces: $all"; fi
traced heap-fork
count=$(ls "$dir"/kiln-heap.*.trace* 2>/dev/null | wc -l)
if [ "$count" = 1 ]; then ok "not followed: neither the child nor what it execs is traced"; else not_ok "not followed: $count traces"; ls "$dir"; fi

# sampling: far fewer records, header says so; stdout unchanged
ENVV=(KILN_HEAP_SAMPLE=65536)
traced heap-basic
same_run "heap-basic sampled"
decode "$(one_trace)"
want "sampled: header sample_bytes" sample 65536

# mmap tracing
ENVV=(KILN_HEAP_MMAP=1)
traced heap-edge
decode "$(one_trace)"
want "KILN_HEAP_MMAP=1: header flag" flags 1

# the tracker's own unwinder (DWARF CFI, these programs have no frame
# pointers) against libunwind on every stack: the same addresses; signal
# frames are left to libunwind
for prog in heap-basic heap-threads "heap-signal sync" heap-dlopen; do
	ENVV=(KILN_HEAP_UNWIND_CHECK=1)
	traced $prog
	if grep -qE '^kiln-heap: unwind check: [1-9][0-9]* stacks, 0 differ' "$dir/err"; then ok "$prog: every stack as libunwind unwinds it"
	else not_ok "$prog: unwind check"; diag "$(grep 'unwind check' "$dir/err" | head -5)"; fi
done

# an unwritable trace path: a warning, output unchanged
ENVV=(KILN_HEAP_TRACE=/nonexistent/dir/x.%p)
traced heap-basic
same_run "unwritable trace path"
if grep -q '^kiln-heap: ' "$dir/err"; then ok "unwritable trace path: one warning"; else not_ok "no warning"; fi

done_testing
