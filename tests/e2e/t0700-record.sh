#!/usr/bin/env bash
# t0700: kiln record on bundled workloads with known profiles (built -O2
# without frame pointers): shares, deep recursion, inlined frames, threads,
# forked children; Debian's own binaries unwound with CFI; go tool pprof
# reading the output; and the error paths (bad pid, bad command, target
# exiting, signals, full disk), which must still write what was sampled.
. "$(dirname "$0")/lib.sh"

W=$WORKLOADS/record-work
[ -x "$W" ] || skip_all "workload $W not built"
"$KILN" record -q -o "$TMP/probe.pb.gz" -- true >/dev/null 2>"$TMP/probe.err" ||
	skip_all "kiln record cannot sample here: $(head -1 "$TMP/probe.err")"
plan 26

share() { folded_share "$@"; }
rec() { # rec NAME MODE [record options...]
	local name=$1 mode=$2; shift 2
	"$KILN" record -q -F 999 "$@" -o "$TMP/$name.pb.gz" -- "$W" "$mode" 2 >/dev/null 2>"$TMP/$name.err"
	"$KILN" collapse "$TMP/$name.pb.gz" >"$TMP/$name.folded" 2>>"$TMP/$name.err"
}

for cg in auto dwarf; do
	rec split-$cg split -g $cg
	a=$(share work_a "$TMP/split-$cg.folded") b=$(share work_b "$TMP/split-$cg.folded") c=$(share lib_work "$TMP/split-$cg.folded")
	if near "$a" 60 3 && near "$b" 30 3 && near "$c" 10 3; then ok "-g $cg: shares $a/$b/$c ~ 60/30/10 (lib_work in a .so)"
	else not_ok "-g $cg: shares $a/$b/$c, want 60/30/10 within 3 points"; diag "$(sort -t' ' -k2 -nr "$TMP/split-$cg.folded" | head -5)" "$(cat "$TMP/split-$cg.err")"; fi
	m=$(awk '{ n = $NF; t += n; if ($0 ~ /(^|;)main;/) h += n } END { if (t) printf "%.1f", 100 * h / t; else print 0 }' "$TMP/split-$cg.folded")
	if near "$m" 100 5; then ok "-g $cg: $m% of samples reach main"; else not_ok "-g $cg: only $m% of samples reach main"; fi
done

rec recurse recurse
if grep -Eq 'main;(recurse;)?recurse_100;recurse_99;.*recurse_2;recurse_1;leaf' "$TMP/recurse.folded"; then
	ok "recursion 100 deep: every frame from main to leaf"
else
	not_ok "recursion 100 deep"; diag "$(sort -t' ' -k2 -nr "$TMP/recurse.folded" | head -2 | cut -c1-400)"
fi
r=$(share recurse_50 "$TMP/recurse.folded")
if near "$r" 100 5; then ok "recursion: $r% of samples pass recurse_50"; else not_ok "recursion: $r% pass recurse_50"; fi

rec inline inline
if grep -q 'inline_caller;hot_inline' "$TMP/inline.folded"; then ok "inlined function is a frame under its caller"
else not_ok "inlined frame"; diag "$(head -3 "$TMP/inline.folded")"; fi

rec threads threads
a=$(share spin_a "$TMP/threads.folded") b=$(share spin_b "$TMP/threads.folded")
if near "$a" 50 10 && near "$b" 50 10; then ok "two threads: $a% / $b%"; else not_ok "two threads: $a% / $b%"; fi

rec fork fork
a=$(share child_work "$TMP/fork.folded") b=$(share parent_work "$TMP/fork.folded")
if near "$a" 50 10 && near "$b" 50 10; then ok "forked child is followed: child $a%, parent $b%"
else not_ok "forked child: child $a%, parent $b%"; diag "$(head -5 "$TMP/fork.folded")"; fi
rec nofork fork --no-inherit
a=$(share child_work "$TMP/nofork.folded")
if [ "${a%.*}" -eq 0 ]; then ok "--no-inherit leaves the child out"; else not_ok "--no-inherit: child has $a%"; fi

rec offcpu offcpu --off-cpu
w=$(share wait_part "$TMP/offcpu.folded") b=$(share busy_part "$TMP/offcpu.folded")
if awk -v w="$w" 'BEGIN { exit !(w >= 55 && w <= 95) }'; then ok "--off-cpu: blocked time shows ($w% in wait_part, $b% in busy_part)"
else not_ok "--off-cpu: $w% in wait_part, $b% in busy_part"; diag "$(sort -t' ' -k2 -nr "$TMP/offcpu.folded" | head -4 | cut -c1-300)"; fi
if grep -q 'wait_part;__nanosleep' "$TMP/offcpu.folded" || grep -q 'wait_part;.*nanosleep' "$TMP/offcpu.folded"; then ok "--off-cpu: the blocking call's stack is recorded"
else not_ok "--off-cpu stack"; fi

GO=$(command -v go || true)
if [ -n "$GO" ]; then
	export HOME=${HOME:-$TMP} GOCACHE=$TMP/gocache
	timeout 120 "$GO" tool pprof -top "$TMP/split-auto.pb.gz" >"$TMP/top.txt" 2>&1
	if grep -q 'work_a' "$TMP/top.txt" && grep -q 'lib_work' "$TMP/top.txt"; then ok "go tool pprof -top reads kiln record's profile"
	else not_ok "go tool pprof -top"; diag "$(head -20 "$TMP/top.txt")"; fi
	timeout 120 "$GO" tool pprof -traces "$TMP/split-auto.pb.gz" >"$TMP/traces.txt" 2>&1
	if grep -Eq 'thread_name: +record-work' "$TMP/traces.txt" && grep -q 'work_b' "$TMP/traces.txt"; then ok "go tool pprof -traces: stacks with thread labels"
	else not_ok "go tool pprof -traces"; diag "$(head -20 "$TMP/traces.txt")"; fi
	timeout 120 "$GO" tool pprof -top -lines "$TMP/inline.pb.gz" >"$TMP/lines.txt" 2>&1
	line=$(grep -n 'HOT_INLINE_LINE' "$ROOT/tests/workloads/record-work.c" | cut -d: -f1)
	if grep -q "hot_inline .*record-work.c:$line" "$TMP/lines.txt"; then ok "inlined frame carries its line ($line)"
	else not_ok "inlined frame line $line"; diag "$(head -12 "$TMP/lines.txt")"; fi
	timeout 120 "$GO" tool pprof -top -tagfocus=thread_name=worker-a "$TMP/threads.pb.gz" >"$TMP/ta.txt" 2>&1
	if awk '/spin_a/ { a = 1 } /spin_b/ { b = 1 } END { exit !(a && !b) }' "$TMP/ta.txt"; then ok "thread worker-a's samples are in spin_a only"
	else not_ok "thread attribution"; diag "$(head -12 "$TMP/ta.txt")"; fi
else
	for i in 1 2 3 4; do skip "go tool pprof checks: golang-go is not installed"; done
fi

# Debian's own binaries have no frame pointers: CFI must reach main.
XZ=$(command -v xz || true)
if [ -n "$XZ" ]; then
	head -c 30000000 /dev/urandom >"$TMP/blob"
	"$KILN" record -q -F 499 -o "$TMP/xz.pb.gz" -- "$XZ" -9 -T1 -k -c "$TMP/blob" >/dev/null 2>"$TMP/xz.err"
	"$KILN" collapse "$TMP/xz.pb.gz" >"$TMP/xz.folded"
	m=$(awk '{ n = $NF; t += n; if ($0 ~ /(^|;)(main|_start|start_thread|clone3?|__libc_start_main[^;]*);/) h += n } END { if (t) printf "%.1f", 100 * h / t; else print 0 }' "$TMP/xz.folded")
	if awk -v m="$m" 'BEGIN { exit !(m >= 95) }'; then ok "xz (no frame pointers): $m% of stacks reach main or _start"
	else not_ok "xz: only $m% of stacks reach main or _start"; diag "$(sort -t' ' -k2 -nr "$TMP/xz.folded" | head -5 | cut -c1-300)"; fi
else
	skip "xz is not installed"
fi

# Errors: clear messages, non-zero exits, and what was sampled is kept.
exit_code "a pid that does not exist" 1 "$KILN" record -q -o "$TMP/none.pb.gz" -p 999999999
"$KILN" record -o "$TMP/bad.pb.gz" -- /nonexistent/command >/dev/null 2>"$TMP/bad.err"
if [ $? = 1 ] && grep -q "cannot run '/nonexistent/command'" "$TMP/bad.err"; then ok "a command that cannot start"; else not_ok "a command that cannot start"; diag "$(cat "$TMP/bad.err")"; fi
exit_code "no target is a usage error" 2 "$KILN" record -q
exit_code "-d that is no time (10q) is a usage error" 2 "$KILN" record -q -d 10q -- true
"$W" split 1 &
wpid=$!
"$KILN" record -q -F 499 -o "$TMP/attach.pb.gz" -p "$wpid" -d 10s >/dev/null 2>&1
rc=$?
wait "$wpid"
"$KILN" collapse "$TMP/attach.pb.gz" >"$TMP/attach.folded" 2>/dev/null
if [ $rc = 0 ] && grep -q 'work_a' "$TMP/attach.folded"; then ok "-p: the target exits mid-run, the profile is written"
else not_ok "-p attach (rc $rc)"; fi
"$KILN" record -q -F 499 -o "$TMP/sig.pb.gz" -- "$W" split 30 >/dev/null 2>&1 &
kpid=$!
sleep 1.5
kill -TERM "$kpid"
wait "$kpid"
rc=$?
"$KILN" collapse "$TMP/sig.pb.gz" >"$TMP/sig.folded" 2>/dev/null
if [ $rc = 0 ] && grep -q 'work_a' "$TMP/sig.folded"; then ok "SIGTERM stops recording and the profile is written"
else not_ok "SIGTERM (rc $rc)"; fi
exit_code "a full disk is an error" 1 "$KILN" record -q -o /dev/full -- "$W" split 0.3
"$KILN" record -q -F 199 -o "$TMP/f.pb.gz" --flame "$TMP/f.svg" -- "$W" split 0.5 >/dev/null 2>&1
if grep -q 'work_a' "$TMP/f.svg" 2>/dev/null; then ok "--flame writes the flamegraph in the same step"; else not_ok "--flame"; fi
# clang writes no .debug_aranges by default: lines come from the CUs' ranges
if command -v clang >/dev/null 2>&1 &&
	clang -O2 -g -o "$TMP/ct-clang" "$ROOT/tests/workloads/cpu-tree.c" -lpthread -lm 2>/dev/null; then
	"$KILN" record -q -F 499 -o "$TMP/clang.pb.gz" -- "$TMP/ct-clang" >/dev/null 2>&1
	"$KILN" report --lines "$TMP/clang.pb.gz" >"$TMP/clang.txt" 2>&1
	if grep -q 'leaf_hash .*cpu-tree.c:[0-9]' "$TMP/clang.txt"; then ok "file:line in a clang binary without .debug_aranges"
	else not_ok "clang lines"; diag "$(head -14 "$TMP/clang.txt")"; fi
else
	skip "clang is not installed"
fi
done_testing
