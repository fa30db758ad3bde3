#!/usr/bin/env bash
# t1010: kiln heap on tests/workloads/heap-known (peak 7096 bytes in 3
# blocks, 7 allocations of 7244 bytes, 48 bytes leaked in 3 blocks): the
# report, exit code passthrough, --error-exitcode, the pprof profile read by
# kiln report and go tool pprof, the SVG and JSON, and kiln heap report.
. "$(dirname "$0")/lib.sh"

W=$WORKLOADS/heap-known
[ -x "$W" ] || skip_all "workload $W not built"
[ -f "$(dirname "$KILN")/libkiln-heap.so" ] || skip_all "libkiln-heap.so not built next to $KILN"
plan 12

"$KILN" heap -o "$TMP/t.trace" --pprof "$TMP/heap.pb.gz" --svg "$TMP/heap.svg" --json "$TMP/heap.json" \
	-- "$W" 7 >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" = 7 ]; then ok "exit code of the command passes through"; else not_ok "exit code $rc, want 7"; diag "$(cat "$TMP/err")"; fi
if [ "$(cat "$TMP/out")" = "heap-known done" ]; then ok "the command's stdout is untouched"; else not_ok "stdout"; diag "$(cat "$TMP/out")"; fi
if grep -q '^peak heap: *7,096 bytes .* in 3 blocks' "$TMP/err"; then ok "peak 7,096 bytes in 3 blocks"
else not_ok "peak line"; diag "$(grep -E '^(peak|total)' "$TMP/err")"; fi
if grep -q '^total: *7 allocations, 7,244 bytes' "$TMP/err"; then ok "totals: 7 allocations, 7,244 bytes"
else not_ok "totals"; diag "$(grep '^total' "$TMP/err")"; fi
if grep -q '^   definitely lost: 48 bytes in 3 blocks' "$TMP/err"; then ok "leak summary: definitely lost: 48 bytes in 3 blocks"
else not_ok "leak summary"; diag "$(grep -A5 'LEAK SUMMARY' "$TMP/err")"; fi
if grep -q 'temporary allocations: 1 ' "$TMP/err"; then ok "one temporary allocation"; else not_ok "temporaries"; diag "$(grep temporary "$TMP/err")"; fi

exit_code "--error-exitcode=9 when leaks are found" 9 "$KILN" heap -q -o "$TMP/t2.trace" --error-exitcode=9 -- "$W"
exit_code "kiln heap report re-analyses the trace" 0 "$KILN" heap report "$TMP/t.trace"
if grep -q 'peak heap: *7,096 bytes' "$TMP/exit.out"; then ok "report: the same peak"; else not_ok "report peak"; diag "$(head -20 "$TMP/exit.out")"; fi

"$KILN" report --sample-type alloc_space "$TMP/heap.pb.gz" >"$TMP/rep.txt" 2>&1
if grep -q 'alloc_c' "$TMP/rep.txt" && grep -q 'Total: *7.07KiB ' "$TMP/rep.txt"; then ok "kiln report reads the heap profile (7244 bytes)"
else not_ok "kiln report on heap.pb.gz"; diag "$(head -15 "$TMP/rep.txt")"; fi
if grep -q '<svg' "$TMP/heap.svg" && grep -q 'id="peak"' "$TMP/heap.svg" && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d['peak']['bytes'] != 7096)" "$TMP/heap.json"
then ok "SVG chart with a peak marker; JSON peak 7096"; else not_ok "svg/json"; fi

GO=$(command -v go || true)
if [ -n "$GO" ]; then
	export HOME=${HOME:-$TMP} GOCACHE=$TMP/gocache
	timeout 120 "$GO" tool pprof -sample_index=alloc_space -top "$TMP/heap.pb.gz" >"$TMP/top.txt" 2>&1
	if grep -q 'alloc_c' "$TMP/top.txt"; then ok "go tool pprof -sample_index=alloc_space -top"
	else not_ok "go tool pprof"; diag "$(head -20 "$TMP/top.txt")"; fi
else
	skip "go is not installed"
fi
done_testing
