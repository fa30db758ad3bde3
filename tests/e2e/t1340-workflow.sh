#!/bin/bash
# t1340-workflow: the whole workflow of issue 6 on the demo service, with
# every file made by the real producers: kiln run --cpu --heap --mem under
# loadgen with an exact request count, kiln check on that folder (its
# verdicts land in summary.json and index.html), the page in headless
# Chromium, then a second run without the leaking route and kiln diff of
# the two folders (shares, leak delta, diff.html).
# Invariant: every expected figure comes from the demo's own definitions
# (REPORT_LEAK_BYTES = 1000 per /report, examples/README.md) and from
# loadgen's printed route counts, never from a previous run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/results-lib.sh"

EX=$(dirname "$KILN")/examples
[ -x "$EX/demo-server" ] && [ -x "$EX/loadgen" ] || skip_all "examples not built next to $KILN"
perf_ok=1
"$KILN" record -q -d 0.1 -o "$TMP/probe.pb.gz" -- true >/dev/null 2>&1 || perf_ok=0
[ $perf_ok = 1 ] || skip_all "perf_event_open is refused here"

LEAK=1000 # REPORT_LEAK_BYTES in examples/demo-server.c
free_port() {
	local p
	for p in $(seq $((20000 + RANDOM % 20000)) 1 $((20000 + RANDOM % 20000 + 50))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	echo 28089
}

# run DIR MIX: kiln run on the demo with loadgen doing 20000 requests
run() {
	local port
	port=$(free_port)
	"$KILN" run --cpu --heap --mem -i 0.1 --ready "tcp:$port" -o "$1" \
		--load "$EX/loadgen --port $port --connections 2 --requests 20000 --mix $2" \
		-- "$EX/demo-server" --port "$port" --threads 2 >"$TMP/run.out" 2>&1
}

A=$TMP/a
run "$A" hash:60,item:30,report:10
rc=$?
if [ $rc = 0 ] && [ -s "$A/summary.json" ]; then ok "kiln run on the demo writes a results folder"
else not_ok "kiln run (exit $rc)"; diag "$(tail -20 "$TMP/run.out")"; fi
for f in cpu.pb.gz flame.svg report.txt heap.kht heap.pb.gz heap.svg leaks.txt mem.csv mem.svg index.html load.log target.log; do
	[ -s "$A/$f" ] || missing="${missing:-} $f"
done
[ -z "${missing:-}" ] && ok "every file of --cpu --heap --mem is there" || not_ok "missing:$missing"
reports=$(sed -n 's/.*routes:.* report \([0-9][0-9]*\).*/\1/p' "$A/load.log")
[ -n "$reports" ] && [ "$reports" -gt 0 ] && ok "loadgen made $reports /report requests" || { not_ok "loadgen's route counts"; diag "$(cat "$A/load.log")"; }
reports=${reports:-0}

# summary.json, read with python3 as any CI script would
fig() { python3 -c "import json,sys; d=json.load(open('$A/summary.json')); print(eval(sys.argv[1]))" "$1" 2>/dev/null; }
[ "$(fig "d['heap']['definitely_lost_bytes']")" = $((reports * LEAK)) ] &&
	[ "$(fig "d['heap']['definitely_lost_blocks']")" = "$reports" ] &&
	ok "summary: definitely lost = $reports x $LEAK bytes, exactly" ||
	{ not_ok "summary: definitely lost"; diag "$(fig "d['heap']")"; }
[ "$(fig "d['cpu']['top'][0]['name']")" = hash_rounds ] && ok "summary: hash_rounds is the top function" ||
	not_ok "summary: top function '$(fig "d['cpu']['top'][0]['name']")'"
[ "$(fig "d['stopped_by']")" = SIGINT ] && [ "$(fig "d['target_end']")" = "exited 0" ] &&
	ok "the demo stopped on SIGINT and exited 0" || not_ok "how it ended: $(fig "d['stopped_by']") / $(fig "d['target_end']")"
grep -q 'build_report' "$A/leaks.txt" && ok "leaks.txt names build_report" || not_ok "leaks.txt"
sites=$(fig "[s['name'] for s in d['heap']['top']]")
case $sites in *cache_insert*build_report* | *build_report*cache_insert*) ok "top sites: cache_insert and build_report" ;;
*) not_ok "top sites: $sites" ;; esac
awk -F, 'NR > 1 { n++ } END { exit !(n >= 3) }' "$A/mem.csv" && ok "mem.csv has samples" || not_ok "mem.csv rows"

# kiln check: the seeds' checklist
"$KILN" check --seed-defaults --junit "$TMP/junit.xml" "$A" >"$TMP/check.out" 2>&1
rc=$?
[ $rc = 1 ] && ok "kiln check --seed-defaults exits 1 (breaches)" || { not_ok "kiln check exit $rc"; diag "$(cat "$TMP/check.out")"; }
grep -Eq 'max-self +10% +[0-9.]+% in hash_rounds +FAIL' "$TMP/check.out" && ok "max-self fails naming hash_rounds" ||
	{ not_ok "max-self row"; diag "$(cat "$TMP/check.out")"; }
grep -Eq "no-leaks .* $((reports * LEAK)) B in $reports blocks definitely lost +FAIL" "$TMP/check.out" &&
	ok "no-leaks fails with the exact bytes" || { not_ok "no-leaks row"; diag "$(cat "$TMP/check.out")"; }
grep -Eq 'max-heap +500MB .* PASS' "$TMP/check.out" && ok "max-heap passes" || not_ok "max-heap row"
python3 -c "import xml.etree.ElementTree as E; r=E.parse('$TMP/junit.xml').getroot(); f=r.findall('.//failure'); assert len(f) >= 2" 2>/dev/null &&
	ok "JUnit XML parses, with the failures" || not_ok "JUnit XML"
[ "$(fig "d['checks']['passed']")" = False ] && ok "the verdicts are written into summary.json" || not_ok "summary.json checks"
grep -q 'id="checks"' "$A/index.html" && ok "index.html is redrawn with the verdicts" || not_ok "index.html has no verdicts"
"$KILN" check --no-write --max-self 95% --max-heap 1GB "$A" >"$TMP/check2.out" 2>&1
[ $? = 0 ] && ok "generous budgets pass (exit 0)" || { not_ok "generous budgets"; diag "$(cat "$TMP/check2.out")"; }

# the page in headless Chromium: the one kiln run and kiln check drew,
# with as many verdicts of each kind as summary.json holds
passes=$(fig "sum(i['verdict'] == 'pass' for i in d['checks']['items'])")
fails=$(fig "sum(i['verdict'] == 'fail' for i in d['checks']['items'])")
browser_check "$A/index.html" "$TMP/workflow.png" \
	'{"sections": ["summary", "checks", "cpu", "heap", "memory"], "text": ["hash_rounds", "build_report"], "frame": "hash_rounds", "verdicts": {"pass": '"${passes:-0}"', "fail": '"${fails:-0}"'}}'
[ -n "${KILN_ARTIFACTS:-}" ] && mkdir -p "$KILN_ARTIFACTS" && cp "$TMP/workflow.png" "$KILN_ARTIFACTS/workflow.png" 2>/dev/null

# a second run without the leaking route, then kiln diff A B
B=$TMP/b
run "$B" hash:30,item:70
rc=$?
[ $rc = 0 ] && [ "$(python3 -c "import json; print(json.load(open('$B/summary.json'))['heap']['definitely_lost_bytes'])")" = 0 ] &&
	ok "second run: no /report, nothing definitely lost" || { not_ok "second run (exit $rc)"; diag "$(tail -5 "$TMP/run.out")"; }
"$KILN" diff -o "$TMP/d" "$A" "$B" >"$TMP/diff.out" 2>&1
rc=$?
[ $rc = 0 ] && [ -s "$TMP/d/diff.html" ] && [ -s "$TMP/d/diff.svg" ] && ok "kiln diff A B writes diff.html and diff.svg" ||
	{ not_ok "kiln diff (exit $rc)"; diag "$(head -20 "$TMP/diff.out")"; }
grep -Eiq 'definitely lost' "$TMP/diff.out" && ok "the diff shows the leak delta" || { not_ok "leak delta"; diag "$(head -30 "$TMP/diff.out")"; }
# hash_rounds's share falls from A to B (60% to 30% of requests): a negative change
line=$(grep -E ' hash_rounds$' "$TMP/diff.out" | head -1)
case $line in *-[0-9]*) ok "hash_rounds's share fell: $line" ;; *) not_ok "hash_rounds's share change: '$line'"; diag "$(head -40 "$TMP/diff.out")" ;; esac
python3 -c "import xml.dom.minidom as m; m.parse('$TMP/d/diff.svg')" 2>/dev/null && ok "diff.svg is well formed" || not_ok "diff.svg"
plan "$_n" # at the end: the browser half prints as many lines as it checks
done_testing
