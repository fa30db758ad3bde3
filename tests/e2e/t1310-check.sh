#!/usr/bin/env bash
# t1310: kiln check on results folders built with the real tools: CPU
# profiles from kiln record (record-work split: lib_work 10%, in a .so;
# threads: no lib_work), heap figures from kiln heap on heap-known (peak
# 7096 bytes, 48 bytes in 3 blocks definitely lost), and a summary.json
# written here from their JSON (kiln run will write it; see docs/check.md).
# Budgets by flag and by file, seed defaults, skips and --strict, baselines,
# JUnit XML read by a real parser, the write-back, exit codes, bad input.
. "$(dirname "$0")/lib.sh"

W=$WORKLOADS/record-work
HT=${HEAP_TESTS:-$ROOT/build/heap-tests}
[ -x "$W" ] || skip_all "workload $W not built"
[ -x "$WORKLOADS/heap-known" ] || skip_all "workload heap-known not built"
[ -f "$(dirname "$KILN")/libkiln-heap.so" ] || skip_all "libkiln-heap.so not built next to $KILN"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
"$KILN" record -q -o "$TMP/probe.pb.gz" -- true >/dev/null 2>"$TMP/probe.err" ||
	skip_all "kiln record cannot sample here: $(head -1 "$TMP/probe.err")"

# summary DIR: DIR/summary.json from DIR/cpu.pb.gz (kiln report --json) and
# DIR/heap.json (kiln heap --json), each section only when its file exists
summary() {
	local dir=$1
	[ -f "$dir/cpu.pb.gz" ] && "$KILN" report --json --limit 20 "$dir/cpu.pb.gz" >"$dir/report.json"
	python3 - "$dir" <<'EOF'
import json, os, sys
d = sys.argv[1]
s = {"version": 1, "name": os.path.basename(d), "started": "2026-11-22T06:30:00Z"}
if os.path.exists(d + "/report.json"):
    r = json.load(open(d + "/report.json"))
    s["cpu"] = {"profile": "cpu.pb.gz", "samples": r["samples"],
                "top": [{"name": x["name"], "self_pct": x["self_percent"], "total_pct": x["total_percent"]}
                        for x in r["rows"]]}
if os.path.exists(d + "/heap.json"):
    h = json.load(open(d + "/heap.json"))
    lk = h["leaks"]
    s["heap"] = {"trace": "heap.kht", "allocations": h["allocations"], "allocated_bytes": h["bytes"],
                 "peak_bytes": h["peak"]["bytes"], "final_bytes": h["exit"]["bytes"],
                 "peak_rss": h["rss_max"], "frag_pct": -1, "growth_bph": 0,
                 "definitely_lost_bytes": lk["definitely_lost"][0], "definitely_lost_blocks": lk["definitely_lost"][1],
                 "indirectly_lost_bytes": lk["indirectly_lost"][0], "indirectly_lost_blocks": lk["indirectly_lost"][1]}
json.dump(s, open(d + "/summary.json", "w"), indent=2)
EOF
}
cpu() { "$KILN" record -q -F 999 -o "$1/cpu.pb.gz" -- "$W" "$2" 1.5 >/dev/null 2>"$1/record.err"; }
heap() { "$KILN" heap --json "$1/heap.json" -o "$1/heap.kht" -- "$WORKLOADS/heap-known" >/dev/null 2>"$1/heap.err"; }

R=$TMP/run; SAME=$TMP/same; OTHER=$TMP/other; CPUONLY=$TMP/cpuonly
mkdir -p "$R" "$SAME" "$OTHER" "$CPUONLY"
cpu "$R" split; heap "$R"; summary "$R"
cpu "$SAME" split; heap "$SAME"; summary "$SAME"
cpu "$OTHER" threads; heap "$OTHER"; summary "$OTHER"
cp "$R/cpu.pb.gz" "$CPUONLY/"; summary "$CPUONLY"
for f in "$R/cpu.pb.gz" "$R/heap.json" "$SAME/heap.json" "$OTHER/cpu.pb.gz" "$CPUONLY/summary.json"; do
	[ -s "$f" ] || { echo "Bail out! setting up: no $f: $(cat "$(dirname "$f")"/*.err 2>/dev/null | head -5)"; exit 1; }
done
plan 45
# no write-back unless a check says so
for d in "$R" "$SAME" "$OTHER" "$CPUONLY"; do cp "$d/summary.json" "$d/summary.orig"; done

# the top function by self, as kiln report (and so summary.json) has it
read -r TOPNAME TOPPCT < <(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['rows'][0]; print(r['name'], '%.1f' % r['self_percent'])" "$R/report.json")
diag "top function: $TOPNAME $TOPPCT%"

ck() { "$KILN" check "$@" >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"; }
rc() { cat "$TMP/rc"; }
has() { grep -qE "$1" "$TMP/out"; }
# verdict DESC WANT_RC REGEX: the last ck's exit code and a line of its table
verdict() {
	if [ "$(rc)" = "$2" ] && has "$3"; then ok "$1"
	else not_ok "$1 (exit $(rc), want $2)"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
}

# --- budgets by flag ---
ck --no-write --max-self 50% "$R"
verdict "--max-self 50%: fails naming the top function" 1 "^  max-self +50% +$TOPPCT% in $TOPNAME +FAIL$"
ck --no-write --max-self 100 "$R"
verdict "--max-self 100: passes" 0 "^  max-self +100% +$TOPPCT% in $TOPNAME +PASS$"
if grep -q '^kiln check: PASS: 1 budgets met in 1 results$' "$TMP/out"; then ok "one-line verdict"; else not_ok "verdict line"; diag "$(cat "$TMP/out")"; fi
ck --no-write --no-leaks "$R"
verdict "--no-leaks: fails with the exact bytes and blocks" 1 "^  no-leaks +0 B +48 B in 3 blocks definitely lost +FAIL$"
ck --no-write --max-heap 7096 "$R"
verdict "--max-heap 7096 (the exact peak): passes" 0 "^  max-heap +7096 +7.1 KB +PASS$"
ck --no-write --max-heap 7095 "$R"
verdict "--max-heap 7095: fails" 1 "^  max-heap +7095 +7.1 KB +FAIL$"
ck --no-write --max-heap 7KB "$R"
verdict "--max-heap 7KB (7000 bytes) fails" 1 "max-heap +7KB .*FAIL$"
ck --no-write --max-heap 7KiB "$R"
verdict "--max-heap 7KiB (7168 bytes) passes, shown in KiB" 0 "^  max-heap +7KiB +6.93 KiB +PASS$"
ck --no-write --max-rss 1GB "$R"
verdict "--max-rss 1GB: the heap tracker's RSS passes" 0 "^  max-rss +1GB .*MB +PASS$"

# --- budget files ---
cat >"$TMP/fail.budget" <<'EOF'
# the service's budgets
max-self = 50%
no-leaks = true     # nothing definitely lost

max-heap = 7KiB
EOF
ck --no-write --budget "$TMP/fail.budget" "$R"
if [ "$(rc)" = 1 ] && has "^  max-self +50% .*FAIL$" && has "^  no-leaks .*FAIL$" && has "^  max-heap +7KiB .*PASS$" &&
	has "^kiln check: FAIL: 2 of 3 budgets breached in 1 of 1 results$"; then ok "budget file: the same verdicts as the flags"
else not_ok "budget file"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
ck --no-write --budget "$TMP/fail.budget" --max-self 100 --no-leaks "$R"
verdict "flags override the file" 1 "^  max-self +100% .*PASS$"
printf 'no-leaks = off\n' >"$TMP/second.budget"
ck --no-write --budget "$TMP/fail.budget" --budget "$TMP/second.budget" --max-self 100 "$R"
if [ "$(rc)" = 0 ] && ! has no-leaks; then ok "--budget twice: the second file turns no-leaks off"
else not_ok "--budget twice"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
printf 'max-self = 10\n\nmax-sefl = 3\n' >"$TMP/typo.budget"
ck --no-write --budget "$TMP/typo.budget" "$R"
if [ "$(rc)" = 2 ] && grep -q "^kiln check: $TMP/typo.budget:3: unknown key 'max-sefl'" "$TMP/err"; then ok "budget file: unknown key is a usage error with file:line"
else not_ok "unknown key"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
printf 'max-heap = 12 parsecs\n' >"$TMP/bad.budget"
ck --no-write --budget "$TMP/bad.budget" "$R"
if [ "$(rc)" = 2 ] && grep -q "bad.budget:1: max-heap: '12 parsecs' is not a size" "$TMP/err"; then ok "budget file: bad value with file:line"
else not_ok "bad value"; diag "$(cat "$TMP/err")"; fi
ck --no-write --budget "$TMP/missing.budget" "$R"
if [ "$(rc)" = 2 ] && grep -q "cannot read budget file .*missing.budget.*No such file" "$TMP/err"; then ok "missing budget file: exit 2"
else not_ok "missing budget file"; diag "$(cat "$TMP/err")"; fi
ck --no-write --budget <(echo 'max-self = 50%') "$R"
if [ "$(rc)" = 2 ] && grep -q "cannot read budget file .*: not a regular file" "$TMP/err"; then ok "a pipe as budget file: exit 2, saying why"
else not_ok "a pipe as budget file"; diag "$(cat "$TMP/err")"; fi

# --- seed defaults, skips, --strict ---
ck --no-write --seed-defaults "$R"
labels=$(awk 'NR > 2 && /^  [a-z]/ { printf "%s ", $1 }' "$TMP/out")
if [ "$(rc)" = 1 ] && [ "$labels" = "max-self max-heap no-leaks heap-stable max-alloc-rate max-frag " ] &&
	has "^  max-frag +20% +fragmentation unknown in this run +SKIP$" && has "^  max-heap +500MB .*PASS$"
then ok "--seed-defaults: the seeds' six budgets, unknown fragmentation skipped"
else not_ok "--seed-defaults: '$labels'"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
ck --no-write --max-heap 1G --max-self 100 "$CPUONLY"
verdict "a budget without data is a skip, and skips pass" 0 "^  max-heap +1G +no heap data in this run +SKIP$"
has "^kiln check: PASS: 1 budgets met \(1 skipped\) in 1 results$" && ok "the verdict line counts the skip" || { not_ok "skip count"; diag "$(cat "$TMP/out")"; }
ck --no-write --strict --max-heap 1G "$CPUONLY"
verdict "--strict: a budget without data fails" 1 "^  max-heap +1G +no heap data in this run \(--strict\) +FAIL$"

# --- baselines ---
ck --no-write --baseline "$OTHER" --max-regress 5 "$R"
pts=$(sed -n 's/^  max-regress cpu .*+\([0-9.]*\) pts in lib_work (0.0% -> .*FAIL$/\1/p' "$TMP/out")
if [ "$(rc)" = 1 ] && [ -n "$pts" ] && near "$pts" 10 4; then ok "--baseline (no lib_work): lib_work grew by ~10 points ($pts), breach"
else not_ok "--baseline other"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
has "^  max-regress heap +\+5% +peak heap \+0.0% \(7.1 KB -> 7.1 KB\) +PASS$" && ok "--baseline: the same peak heap passes" ||
	{ not_ok "heap regress"; diag "$(cat "$TMP/out")"; }
ck --no-write --baseline "$OTHER" --max-regress 20 "$R"
verdict "--max-regress 20: passes" 0 "^  max-regress cpu .*in lib_work .*PASS$"
ck --no-write --baseline "$SAME" --max-regress 5 "$R"
verdict "--baseline of the same workload: within 5 points" 0 "^  max-regress cpu +\+5 pts .*PASS$"
printf 'baseline = %s\nmax-regress = 5\n' "$OTHER" >"$TMP/regress.budget"
ck --no-write --budget "$TMP/regress.budget" "$R"
verdict "baseline and max-regress in a budget file" 1 "^  max-regress cpu .*in lib_work .*FAIL$"
ck --no-write --baseline "$R" --max-regress 5 "$TMP/nothing"
if [ "$(rc)" = 1 ] && grep -q "cannot read results '$TMP/nothing'" "$TMP/err"; then ok "a missing folder among RESULTS: exit 1, named"
else not_ok "missing folder"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
mkdir -p "$TMP/badcpu"; cp "$R/summary.json" "$TMP/badcpu/"; echo garbage >"$TMP/badcpu/cpu.pb.gz"
ck --no-write --baseline "$R" --max-regress 5 "$TMP/badcpu"
if [ "$(rc)" = 1 ] && grep -q "badcpu/cpu.pb.gz'" "$TMP/err"; then ok "an unreadable cpu.pb.gz: exit 1, named"
else not_ok "bad cpu.pb.gz"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
mkdir -p "$TMP/escape"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['cpu']['profile']='../cpu.pb.gz'; json.dump(d, open(sys.argv[2],'w'))" \
	"$OTHER/summary.json" "$TMP/escape/summary.json"
ck --no-write --baseline "$TMP/escape" --max-regress 5 "$R"
if [ "$(rc)" = 1 ] && grep -q "names its profile '../cpu.pb.gz': not a file of its folder" "$TMP/err"
then ok "a baseline whose summary names a file outside its folder: exit 1"
else not_ok "baseline profile outside its folder"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
ck --no-write --baseline "$TMP/nothing" --max-regress 5 "$R"
if [ "$(rc)" = 1 ] && grep -q "baseline: cannot read results" "$TMP/err"; then ok "a missing baseline: exit 1"
else not_ok "missing baseline"; diag "$(cat "$TMP/out" "$TMP/err")"; fi

# --- several folders, JUnit ---
ck --no-write --junit "$TMP/check.xml" --max-self 100 --no-leaks --max-heap 1G "$CPUONLY" "$R"
if [ "$(rc)" = 1 ] && has "^$CPUONLY$" && has "^$R$" && has "^kiln check: FAIL: 1 of 6 budgets breached \(2 skipped\) in 1 of 2 results$"
then ok "several folders: a group each, exit 1 when one breaches"; else not_ok "several folders"; diag "$(cat "$TMP/out" "$TMP/err")"; fi
junit=$(python3 - "$TMP/check.xml" <<'EOF' 2>&1
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
out = [root.tag, root.get("tests"), root.get("failures"), root.get("skipped")]
for s in root.findall("testsuite"):
    out.append(s.get("name").rsplit("/", 1)[-1])
    for c in s.findall("testcase"):
        kind = "fail" if c.find("failure") is not None else "skip" if c.find("skipped") is not None else "pass"
        out.append(c.get("name") + ":" + kind)
    f = s.find("testcase/failure")
    if f is not None:
        out.append(f.get("message"))
print(" ".join(out))
EOF
)
want="testsuites 6 1 2 cpuonly max-self:pass max-heap:skip no-leaks:skip run max-self:pass max-heap:pass no-leaks:fail no-leaks: 48 B in 3 blocks definitely lost (limit 0 B): breached"
if [ "$junit" = "$want" ]; then ok "--junit: valid XML, a suite per folder, a case per budget"
else not_ok "--junit"; diag "got:  $junit" "want: $want"; fi
mkdir -p "$TMP/weird<&\"'"; cp "$R/summary.json" "$TMP/weird<&\"'/"
ck --no-write --junit "$TMP/weird.xml" --no-leaks "$TMP/weird<&\"'"
check "--junit: markup in names is escaped" python3 -c "import sys, xml.etree.ElementTree as E; assert E.parse(sys.argv[1]).getroot()[0].get('name').endswith('weird<&\"\\'')" "$TMP/weird.xml"

# --- write-back ---
same_file "--no-write leaves summary.json alone" "$R/summary.orig" "$R/summary.json"
ck --max-self 50 --no-leaks --max-heap 1G "$R"
wb=$(python3 -c "
import json, re, sys
s = json.load(open(sys.argv[1])); c = s['checks']
assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', c['checked_at']), c['checked_at']
print(c['passed'], ' '.join('%s/%s/%s' % (i['budget'], i['limit'], i['verdict']) for i in c['items']), s['heap']['peak_bytes'], s['cpu']['top'][0]['name'])
" "$R/summary.json" 2>&1)
if [ "$wb" = "False max-self/50%/fail max-heap/1G/pass no-leaks/0 B/fail 7096 $TOPNAME" ]; then ok "summary.json gets the checks section, the rest kept"
else not_ok "write-back: $wb"; fi
ck --max-heap 1G "$R"
wb=$(python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['checks']; print(c['passed'], len(c['items']))" "$R/summary.json")
[ "$wb" = "True 1" ] && ok "a second check replaces the checks section" || not_ok "second write-back: $wb"
chmod a-w "$SAME"
if [ "$(id -u)" = 0 ]; then skip "read-only folder (root writes anyway)"
else
	ck --max-heap 1G "$SAME"
	if [ "$(rc)" = 1 ] && grep -q "use --no-write" "$TMP/err"; then ok "read-only folder: exit 1 suggesting --no-write"; else not_ok "read-only"; diag "$(cat "$TMP/err")"; fi
fi
chmod u+w "$SAME"

# --- usage errors and bad results ---
ck --max-heap 12parsecs "$R"
if [ "$(rc)" = 2 ] && grep -q "^kiln check: --max-heap: '12parsecs' is not a size such as 500MB" "$TMP/err"; then ok "bad size: exit 2, said why"
else not_ok "bad size"; diag "$(cat "$TMP/err")"; fi
ck --max-self 120% "$R"
if [ "$(rc)" = 2 ] && grep -q "is not a percent from 0 to 100" "$TMP/err"; then ok "bad percent: exit 2"; else not_ok "bad percent"; diag "$(cat "$TMP/err")"; fi
ck --max-alloc-rate 100MB "$R"
if [ "$(rc)" = 2 ] && grep -q "is not a rate such as 100MB/s" "$TMP/err"; then ok "rate without /s: exit 2"; else not_ok "bad rate"; diag "$(cat "$TMP/err")"; fi
exit_code "no budget: exit 2" 2 "$KILN" check "$R"
exit_code "no RESULTS: exit 2" 2 "$KILN" check --no-leaks
ck --baseline "$SAME" "$R"
if [ "$(rc)" = 2 ] && grep -q "baseline needs max-regress" "$TMP/err"; then ok "--baseline without --max-regress: exit 2"; else not_ok "baseline alone"; diag "$(cat "$TMP/err")"; fi
mkdir -p "$TMP/garbage"; printf '{"version": 1, "heap": [1, 2]' >"$TMP/garbage/summary.json"
ck --no-leaks "$TMP/garbage"
if [ "$(rc)" = 1 ] && grep -q "garbage/summary.json" "$TMP/err" && cmp -s "$TMP/garbage/summary.json" <(printf '{"version": 1, "heap": [1, 2]')
then ok "garbage summary.json: exit 1 naming the file, left as it was"; else not_ok "garbage summary"; diag "$(cat "$TMP/err")"; fi
mkdir -p "$TMP/empty"
ck --no-leaks "$TMP/empty"
if [ "$(rc)" = 1 ] && grep -q "is not a results folder: it has no summary.json" "$TMP/err"; then ok "a folder without summary.json: exit 1"
else not_ok "empty folder"; diag "$(cat "$TMP/err")"; fi
ck --no-write --no-leaks "$R/summary.json"
verdict "RESULTS may name summary.json itself" 1 "^  no-leaks .*FAIL$"

done_testing
