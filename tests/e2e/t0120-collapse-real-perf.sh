#!/usr/bin/env bash
# t0120: kiln collapse on real `perf script` output recorded here from a
# bundled workload with a known profile (60/30/10 % in three functions),
# in both dialects, with frame-pointer and DWARF call graphs.
. "$(dirname "$0")/lib.sh"

W=$WORKLOADS/shares
[ -x "$W" ] || skip_all "workload $W not built"
require_perf
plan 8

share() { folded_share "$@"; }

for mode in fp dwarf; do
	perf record -q -F 999 -e cpu-clock --call-graph "$mode" -o "$TMP/$mode.data" -- "$W" 3 >/dev/null 2>&1
	perf script -i "$TMP/$mode.data" >"$TMP/$mode.txt" 2>/dev/null
	"$KILN" collapse "$TMP/$mode.txt" >"$TMP/$mode.folded" 2>"$TMP/err"
	a=$(share work_a "$TMP/$mode.folded") b=$(share work_b "$TMP/$mode.folded") c=$(share work_c "$TMP/$mode.folded")
	if near "$a" 60 5 && near "$b" 30 5 && near "$c" 10 5; then ok "$mode: shares $a/$b/$c ~ 60/30/10"
	else not_ok "$mode: shares $a/$b/$c, want 60/30/10 within 5 points"; diag "$(head -5 "$TMP/$mode.folded")"; fi
	# frame pointers lose the leaf's caller (main), as perf shows too;
	# DWARF unwinding must find it
	want='^shares;.*__libc_start_call_main;(main;)?work_a'
	[ "$mode" = dwarf ] && want='^shares;.*__libc_start_call_main;main;work_a'
	if grep -Eq "$want" "$TMP/$mode.folded"; then ok "$mode: stacks reach __libc_start_call_main"
	else not_ok "$mode: stacks reach __libc_start_call_main"; diag "$(head -5 "$TMP/$mode.folded")"; fi
	"$KILN" collapse --compat perl "$TMP/$mode.txt" >"$TMP/$mode.perl" 2>/dev/null
	a=$(share work_a "$TMP/$mode.perl")
	if near "$a" 60 5; then ok "$mode: perl dialect agrees ($a%)"; else not_ok "$mode: perl dialect share $a%"; fi
	if [ -n "${FLAMEGRAPH_DIR:-}" ] && [ -f "$FLAMEGRAPH_DIR/stackcollapse-perf.pl" ]; then
		perl "$FLAMEGRAPH_DIR/stackcollapse-perf.pl" "$TMP/$mode.txt" >"$TMP/$mode.ref" 2>/dev/null
		same_file "$mode: byte-identical to stackcollapse-perf.pl" "$TMP/$mode.ref" "$TMP/$mode.perl"
	else
		skip "$mode: FLAMEGRAPH_DIR not set; no comparison with stackcollapse-perf.pl"
	fi
done
done_testing
