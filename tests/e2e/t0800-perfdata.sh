#!/usr/bin/env bash
# t0800: kiln collapse and kiln flame read perf.data directly: recorded here
# with frame pointers (perf record -g) and DWARF (--call-graph dwarf) from
# bundled workloads with known profiles; shares, stacks reaching main, the
# same functions as `perf script | kiln collapse`; bad files fail cleanly.
. "$(dirname "$0")/lib.sh"

W=$WORKLOADS/shares
R=$WORKLOADS/record-work
[ -x "$W" ] && [ -x "$R" ] || skip_all "workloads not built in $WORKLOADS"
require_perf
plan 21

share() { folded_share "$@"; }
# functions FOLDED: the distinct frames of the workload's own code
functions() { sed 's/ [0-9]*$//' "$1" | tr ';' '\n' | grep -E '^(main|split|work_[abc]|lib_work)$' | sort -u; }

# check_recording NAME DATA ROOT A B C TA TB TC: shares of three functions
check_recording() {
	local name=$1 data=$2 root=$3
	"$KILN" collapse "$data" >"$TMP/$name.folded" 2>"$TMP/$name.err"
	local rc=$?
	local a b c
	a=$(share "$4" "$TMP/$name.folded") b=$(share "$5" "$TMP/$name.folded") c=$(share "$6" "$TMP/$name.folded")
	if [ $rc = 0 ] && near "$a" "$7" 5 && near "$b" "$8" 5 && near "$c" "$9" 5; then
		ok "$name: shares $a/$b/$c ~ $7/$8/$9"
	else
		not_ok "$name: shares $a/$b/$c, want $7/$8/$9 within 5 points (exit $rc)"
		diag "$(cat "$TMP/$name.err")" "$(head -5 "$TMP/$name.folded")"
	fi
	if grep -q "^$root;.*main;.*$4" "$TMP/$name.folded"; then ok "$name: stacks start at the process name and reach main"
	else not_ok "$name: stacks reach main"; diag "$(head -5 "$TMP/$name.folded")"; fi
	perf script -i "$data" 2>/dev/null | "$KILN" collapse >"$TMP/$name.ref" 2>/dev/null
	functions "$TMP/$name.ref" >"$TMP/$name.ref.fn"
	functions "$TMP/$name.folded" >"$TMP/$name.fn"
	if [ -s "$TMP/$name.ref.fn" ]; then same_file "$name: same functions as perf script | kiln collapse" "$TMP/$name.ref.fn" "$TMP/$name.fn"
	else not_ok "$name: perf script gave no functions"; fi
	if "$KILN" flame "$data" >"$TMP/$name.svg" 2>"$TMP/$name.err" && grep -q '<svg' "$TMP/$name.svg" &&
		grep -q "$4" "$TMP/$name.svg"; then ok "$name: kiln flame writes an SVG"
	else not_ok "$name: kiln flame"; diag "$(cat "$TMP/$name.err")"; fi
}

perf record -q -F 999 -e cpu-clock -g -o "$TMP/fp.data" -- "$W" 1.5 >/dev/null 2>&1
check_recording fp "$TMP/fp.data" shares work_a work_b work_c 60 30 10

perf record -q -F 999 -e cpu-clock --call-graph dwarf -o "$TMP/dwarf.data" -- "$W" 1.5 >/dev/null 2>&1
check_recording dwarf "$TMP/dwarf.data" shares work_a work_b work_c 60 30 10

# record-work has no frame pointers: only DWARF unwinding reaches main
perf record -q -F 999 -e cpu-clock --call-graph dwarf -o "$TMP/split.data" -- "$R" split 1.5 >/dev/null 2>&1
check_recording split "$TMP/split.data" record-work work_a work_b lib_work 60 30 10

# pipe mode: perf record -o - into a file (the workload's own output kept out)
perf record -q -F 999 -e cpu-clock -g -o - -- bash -c 'exec "$0" 1 >/dev/null' "$W" 2>/dev/null >"$TMP/pipe.data"
"$KILN" collapse "$TMP/pipe.data" >"$TMP/pipe.folded" 2>"$TMP/pipe.err"
a=$(share work_a "$TMP/pipe.folded")
if near "$a" 60 5; then ok "pipe mode: work_a $a%"; else not_ok "pipe mode: work_a $a%"; diag "$(cat "$TMP/pipe.err")"; fi

# diff and report take perf.data too
check "kiln report reads perf.data" "$KILN" report "$TMP/fp.data"
check "kiln diff reads perf.data" "$KILN" diff "$TMP/fp.data" "$TMP/dwarf.data"

# bad input: exit 1 with a message naming the file
size=$(stat -c %s "$TMP/fp.data")
head -c $((size / 2)) "$TMP/fp.data" >"$TMP/half.data"
exit_code "truncated perf.data: exit 1" 1 "$KILN" collapse "$TMP/half.data"
if grep -q "half.data: cannot read perf.data: .*end of the file" "$TMP/exit.out"; then ok "truncated: clear message"
else not_ok "truncated: clear message"; diag "$(cat "$TMP/exit.out")"; fi
{ head -c 200 "$TMP/fp.data"; head -c 5000 /dev/urandom; } >"$TMP/garbage.data"
exit_code "garbage after a perf.data header: exit 1" 1 "$KILN" collapse "$TMP/garbage.data"
if grep -q "garbage.data: cannot read perf.data" "$TMP/exit.out"; then ok "garbage: clear message"
else not_ok "garbage: clear message"; diag "$(cat "$TMP/exit.out")"; fi
exit_code "perf.data on standard input: exit 1" 1 "$KILN" collapse - <"$TMP/fp.data"
if grep -q "must be read from a file" "$TMP/exit.out"; then ok "stdin: clear message"
else not_ok "stdin: clear message"; diag "$(cat "$TMP/exit.out")"; fi
done_testing
