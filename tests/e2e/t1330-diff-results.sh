#!/bin/bash
# t1330-diff-results: kiln diff on two results folders (shares, then
# cpu-tree: a real change of shares): the figures and share tables on
# stdout with the right signs, diff.svg (well formed, the same graph as
# kiln diff --svg on the two profiles) and diff.html (self-contained, the
# graph embedded and live in headless Chromium); clear errors for a folder
# without summary.json, a folder mixed with a file, and profile-only options.
# Invariant: both folders come from real runs (results-lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/results-lib.sh"

A=$TMP/before B=$TMP/after
if ! make_results "$A" "$WORKLOADS/shares" 1 || ! make_results "$B" "$WORKLOADS/cpu-tree" 1; then
	echo "1..1"; echo "not ok 1 - could not build the results folders"; exit 1
fi

"$KILN" diff "$A" "$B" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc = 0 ] && ok "kiln diff A B succeeds" || { not_ok "kiln diff A B succeeds (exit $rc)"; diag "$(cat "$TMP/err")"; }
O=$TMP/diff-before-vs-after
[ -s "$O/diff.svg" ] && [ -s "$O/diff.html" ] && ok "writes diff.svg and diff.html in diff-before-vs-after next to B" ||
	not_ok "writes diff.svg and diff.html in diff-before-vs-after next to B"
grep -q "wrote $O/diff.svg and $O/diff.html" "$TMP/err" && ok "says where" || not_ok "says where"

# the share table: rows "BEFORE AFTER DELTA FUNCTION" after its heading
awk '/^ *BEFORE% +AFTER% +DELTA +FUNCTION/ { on = 1; next } on && NF >= 4' "$TMP/out" >"$TMP/shares"
rows=$(wc -l <"$TMP/shares")
[ "$rows" -ge 3 ] && [ "$rows" -le 20 ] && ok "share table has $rows rows (at most 20 by default)" || not_ok "share table rows ($rows)"
first=$(awk 'NR == 1 { print $4 }' "$TMP/shares")
[ "$first" = spin ] && ok "spin (all of shares, none of cpu-tree) changed most" || not_ok "spin changed most (got $first)"
awk '$4 == "spin" { exit !($1 > 50 && $2 < 5 && $3 < -50) }' "$TMP/shares" && ok "spin's share fell: negative change" ||
	{ not_ok "spin's share fell: negative change"; diag "$(head -3 "$TMP/shares")"; }
awk '{ d = $2 - $1; if ((d > 0.005 && $3 <= 0) || (d < -0.005 && $3 >= 0)) bad = 1 } END { exit bad }' "$TMP/shares" &&
	ok "every change has the sign of after - before" || not_ok "every change has the sign of after - before"
awk '{ a = $3 < 0 ? -$3 : $3; if (NR > 1 && a > prev + 0.005) bad = 1; prev = a } END { exit bad }' "$TMP/shares" &&
	ok "sorted by the size of the change" || not_ok "sorted by the size of the change"
# the same table as kiln diff --top on the two profiles (t0500 tests that one)
"$KILN" diff --top 20 "$A/cpu.pb.gz" "$B/cpu.pb.gz" | tail -n +2 >"$TMP/profiles"
same_file "the share table is kiln diff --top's on the profiles" "$TMP/profiles" "$TMP/shares"
"$KILN" diff "$B" "$A" -o "$TMP/reverse" >"$TMP/rout" 2>/dev/null
awk '/FUNCTION$/ { on = 1; next } on && $4 == "spin" { exit !($3 > 50) }' "$TMP/rout" && ok "swapped: spin's change is positive" ||
	not_ok "swapped: spin's change is positive"
[ -s "$TMP/reverse/diff.html" ] && ok "-o OUTDIR" || not_ok "-o OUTDIR"

# the figures, from the summaries
grep -qE '^definitely lost +112 B +112 B +\+0 B' "$TMP/out" && ok "definitely lost: 112 B both, +0 B" ||
	{ not_ok "definitely lost: 112 B both, +0 B"; diag "$(grep 'definitely' "$TMP/out")"; }
grep -qE '^heap peak +212 B +212 B' "$TMP/out" && ok "heap peak row" || not_ok "heap peak row"
grep -qE '^peak RSS +[0-9.]+ [KMG]iB +[0-9.]+ [KMG]iB +[-+]' "$TMP/out" && ok "peak RSS row" || not_ok "peak RSS row"
grep -qE '^allocation rate +[0-9.]+ B/s' "$TMP/out" && ok "allocation rate row" || not_ok "allocation rate row"
cpu_a=$(python3 -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["cpu"]["cpu_s"]))' "$A/summary.json")
cpu_b=$(python3 -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["cpu"]["cpu_s"]))' "$B/summary.json")
rel=$(awk '/^CPU time/ { print $NF }' "$TMP/out" | tr -d '%+')
want=$(awk -v a="$cpu_a" -v b="$cpu_b" 'BEGIN { printf "%.1f", 100 * (b - a) / a }')
near "$rel" "$want" 0.15 && ok "CPU time's relative change is (B - A) / A ($want%)" || not_ok "CPU time's relative change ($rel, want $want)"

# diff.svg: well formed, the graph kiln diff --svg draws from the profiles
python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$O/diff.svg" 2>"$TMP/xml" &&
	ok "diff.svg is well-formed XML" || { not_ok "diff.svg is well-formed XML"; diag "$(cat "$TMP/xml")"; }
"$KILN" diff --svg "$A/cpu.pb.gz" "$B/cpu.pb.gz" -o "$TMP/direct.svg"
same_file "diff.svg is kiln diff --svg of the two profiles" "$TMP/direct.svg" "$O/diff.svg"

# diff.html
H=$O/diff.html
for id in summary figures metrics flame functions shares; do
	grep -q "id=\"$id\"" "$H" && ok "diff.html has #$id" || not_ok "diff.html has #$id"
done
sed -n 's/.*<iframe class="flame"[^>]*src="data:image\/svg+xml;base64,\([^"]*\)".*/\1/p' "$H" | base64 -d >"$TMP/embedded.svg"
sed '/^<svg /s/ width="[0-9.]*" height="[0-9.]*"/ width="100%" height="100%"/' "$O/diff.svg" >"$TMP/fluid.svg"
same_file "diff.html embeds diff.svg (scaled to the page)" "$TMP/fluid.svg" "$TMP/embedded.svg"
ext=$(grep -oE '(src|href)="[a-z]+:' "$H" | grep -v '="data:' | sort -u)
[ -z "$ext" ] && ok "diff.html has no external references" || { not_ok "diff.html has no external references"; diag "$ext"; }
grep -q '<td class="name">spin</td>' "$H" && ok "diff.html lists spin" || not_ok "diff.html lists spin"

# a CPU profile missing: the summaries' top lists, no graph, still a page
cp -r "$B" "$TMP/nocpu"; rm "$TMP/nocpu/cpu.pb.gz"
"$KILN" diff "$A" "$TMP/nocpu" -o "$TMP/nocpu-diff" >"$TMP/out2" 2>"$TMP/err2"
[ $? = 0 ] && ok "a missing profile is not a failure" || { not_ok "a missing profile is not a failure"; diag "$(cat "$TMP/err2")"; }
grep -q "summaries' top functions" "$TMP/err2" && ok "warns it compares the summaries' top lists" || not_ok "warns about the fallback"
awk '/FUNCTION$/ { on = 1; next } on && $4 == "spin" { found = 1; exit !($3 < -50) } END { exit !found }' "$TMP/out2" &&
	ok "the fallback still shows spin's fall" || not_ok "the fallback still shows spin's fall"
[ ! -e "$TMP/nocpu-diff/diff.svg" ] && grep -q 'a CPU profile is missing' "$TMP/nocpu-diff/diff.html" &&
	ok "no diff.svg; diff.html says why" || not_ok "no diff.svg; diff.html says why"

# errors
mkdir "$TMP/plain"
exit_code "a folder without summary.json fails" 1 "$KILN" diff "$TMP/plain" "$B"
grep -q "$TMP/plain: not a results folder (no summary.json)" "$TMP/exit.out" && ok "and names it" ||
	{ not_ok "and names it"; diag "$(cat "$TMP/exit.out")"; }
exit_code "a folder and a file is a usage error" 2 "$KILN" diff "$A" "$B/cpu.pb.gz"
grep -q "is a results folder but .* is not" "$TMP/exit.out" && ok "and says so" || { not_ok "and says so"; diag "$(cat "$TMP/exit.out")"; }
exit_code "a file and a folder too" 2 "$KILN" diff "$A/cpu.pb.gz" "$B"
exit_code "--svg is for profiles" 2 "$KILN" diff --svg "$A" "$B"
echo '{"version": 1, "heap": []}' >"$TMP/plain/summary.json"
exit_code "a malformed summary.json fails" 1 "$KILN" diff "$TMP/plain" "$B"
grep -q "heap" "$TMP/exit.out" && ok "naming what is wrong" || { not_ok "naming what is wrong"; diag "$(cat "$TMP/exit.out")"; }
"$KILN" diff "$A/cpu.pb.gz" "$B/cpu.pb.gz" | head -1 | grep -q ';' && ok "two profiles still give difffolded lines" ||
	not_ok "two profiles still give difffolded lines"

# hostile summaries: 100,000 top functions each (no profiles) must not take
# quadratic time to pair up
mkdir "$TMP/huge-a" "$TMP/huge-b"
python3 - "$TMP" <<'EOF2'
import json, sys
for d, pct in (("huge-a", 0.001), ("huge-b", 0.002)):
    top = [{"name": "fn%d" % i, "self_pct": pct} for i in range(100000)]
    top.append({"name": "hot", "self_pct": 1 if d == "huge-a" else 9})
    json.dump({"version": 1, "name": d, "cpu": {"samples": 1, "top": top}}, open(sys.argv[1] + "/" + d + "/summary.json", "w"))
EOF2
timeout 20 "$KILN" diff "$TMP/huge-a" "$TMP/huge-b" >"$TMP/huge.out" 2>"$TMP/huge.err"
[ $? = 0 ] && ok "huge top lists are compared in time" || { not_ok "huge top lists are compared in time"; diag "$(head -5 "$TMP/huge.err")"; }
awk '/FUNCTION$/ { on = 1; next } on && $4 == "hot" { found = 1; exit !($3 > 7.9 && $3 < 8.1) } END { exit !found }' "$TMP/huge.out" &&
	ok "and pair the same names" || { not_ok "and pair the same names"; diag "$(grep -A3 FUNCTION "$TMP/huge.out")"; }

# the page in the browser
browser_check "$H" "$TMP/diff.png" '{"sections":["summary","figures","flame","functions"],"text":["spin","definitely lost"],"frame":"*"}'
if [ -n "${KILN_ARTIFACTS:-}" ] && [ -f "$TMP/diff.png" ]; then
	mkdir -p "$KILN_ARTIFACTS" && cp "$TMP/diff.png" "$KILN_ARTIFACTS/diff.png"
fi
plan $_n
done_testing
