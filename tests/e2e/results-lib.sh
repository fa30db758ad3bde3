# results-lib.sh: builds a real kiln results folder for the HTML report and
# kiln diff tests, until kiln run (which writes them) is on this branch:
# kiln record, kiln heap and kiln mem run on the bundled workloads, and
# summary.json assembled (python3) from their own JSON reports; and
# browser_check, which drives a page in headless Chromium (browser/report.js).
# Invariant: every figure in summary.json comes from those runs' outputs.
# Source after lib.sh; needs KILN, WORKLOADS and HEAP_TESTS.

HEAP_TESTS=${HEAP_TESTS:-$(dirname "$KILN")/heap-tests}

# make_results DIR CPU_WORKLOAD [ARGS...]: a results folder in DIR with a
# CPU profile of the workload, the heap trace of leak-direct (112 bytes
# definitely lost in 3 blocks) and the memory of mem-grow.
make_results() {
	local dir=$1; shift
	mkdir -p "$dir" || return 1
	local started
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	"$KILN" record -q -F 499 -o "$dir/cpu.pb.gz" --flame "$dir/flame.svg" -- "$@" >"$dir/target.log" 2>&1 || return 1
	"$KILN" report "$dir/cpu.pb.gz" >"$dir/report.txt" 2>&1 || return 1
	"$KILN" report --json "$dir/cpu.pb.gz" >"$TMP/report.json" 2>/dev/null || return 1
	"$KILN" heap -q -o "$dir/heap.kht" --pprof "$dir/heap.pb.gz" --svg "$dir/heap.svg" \
		--leak-check=full --json "$TMP/heap.json" -- "$HEAP_TESTS/leak-direct" >/dev/null 2>"$dir/leaks.txt" || return 1
	"$KILN" mem -q -i 100ms --csv "$dir/mem.csv" --svg "$dir/mem.svg" --json "$TMP/mem.json" \
		-- "$WORKLOADS/mem-grow" 5 4 100 300 200 >/dev/null 2>&1 || return 1
	python3 - "$dir" "$started" "$TMP/report.json" "$TMP/heap.json" "$TMP/mem.json" "$@" <<'PY'
import json, os, sys
d, started, rep, heap, mem = sys.argv[1:6]
argv = sys.argv[6:]
r = json.load(open(rep)); h = json.load(open(heap)); m = json.load(open(mem))
secs = r["total"] / 1e9
top = [{"name": x["name"], "self_pct": x["self_percent"], "total_pct": x["total_percent"],
        "self_s": x["self"] / 1e9} for x in r["rows"][:20]]
lk = h["leaks"]
# leak-direct's lose() drops its blocks' last pointer: what it allocated and
# still held at exit is what leaked
sites = [{"name": s["stack"][0] if s["stack"] else "?", "bytes": s["bytes"], "count": s["allocations"],
          "peak_bytes": s["peak_bytes"], "leaked_bytes": s["exit_bytes"] if s["stack"][:1] == ["lose"] else 0}
         for s in h["by_bytes"][:20]]
dur = r["duration_nanos"] / 1e9
ms = m["summary"]
s = {
  "version": 1, "name": os.path.basename(argv[0]), "command": argv, "started": started,
  "duration_s": dur, "target_end": "exited 0", "stopped_by": "", "load_exit": -1, "load_s": 0,
  "cpu": {"profile": "cpu.pb.gz", "flame": "flame.svg", "report": "report.txt", "samples": r["samples"],
          "frequency_hz": 499, "cpu_s": secs, "top": top},
  "heap": {"trace": "heap.kht", "profile": "heap.pb.gz", "chart": "heap.svg", "leaks_file": "leaks.txt",
           "allocations": h["allocations"], "allocated_bytes": h["bytes"], "alloc_rate_bps": h["bytes"] / max(dur, 1e-3),
           "peak_bytes": h["peak"]["bytes"], "peak_t": h["peak"]["time_us"] / 1e6, "final_bytes": h["exit"]["bytes"],
           "growth_bph": 0, "peak_rss": h["rss_max"], "frag_pct": -1, "temporary": h["temporary"],
           "definitely_lost_bytes": lk["definitely_lost"][0], "definitely_lost_blocks": lk["definitely_lost"][1],
           "indirectly_lost_bytes": lk["indirectly_lost"][0], "indirectly_lost_blocks": lk["indirectly_lost"][1],
           "possibly_lost_bytes": lk["possibly_lost"][0], "possibly_lost_blocks": lk["possibly_lost"][1],
           "still_reachable_bytes": lk["still_reachable"][0], "still_reachable_blocks": lk["still_reachable"][1],
           "top": sites},
  "mem": {"csv": "mem.csv", "chart": "mem.svg", "samples": ms["samples"], "interval_s": m["interval_s"],
          "peak_rss": ms["peak_rss"], "final_rss": ms["last_rss"], "peak_t": ms["peak_time_s"],
          "growth_mb_per_hour": ms["growth_mb_per_hour"], "verdict": ms["verdict"]},
}
json.dump(s, open(os.path.join(d, "summary.json"), "w"), indent=2)
PY
}

# add_checks DIR: kiln check's section, as it writes it (one pass, one
# fail, one skip; names with the characters HTML must escape).
add_checks() {
	python3 - "$1" <<'PY'
import json, os, sys
p = os.path.join(sys.argv[1], "summary.json")
s = json.load(open(p))
s["checks"] = {"checked_at": "2026-11-22T06:30:00Z", "passed": False, "items": [
  {"budget": "max-self", "limit": "90%", "measured": "100.0% in spin<int> & <co>", "verdict": "fail"},
  {"budget": "no-leaks", "limit": "0", "measured": "0 B", "verdict": "pass"},
  {"budget": "max-offcpu", "limit": "10%", "measured": "no off-CPU profile", "verdict": "skip"}]}
json.dump(s, open(p, "w"), indent=2)
PY
}

# browser_check PAGE SCREENSHOT EXPECT_JSON: runs tests/e2e/browser/report.js
# on PAGE and relays its TAP lines as this test's own; one skip when
# chromium, node or playwright-core is missing.
browser_check() {
	local pw=${PLAYWRIGHT_CORE:-$ROOT/build/node/node_modules/playwright-core} line brc
	if [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null 2>&1 || [ ! -f "$pw/package.json" ]; then
		skip "headless Chromium: chromium, node or playwright-core ($pw) missing"
		return
	fi
	timeout 120 node "$ROOT/tests/e2e/browser/report.js" "$pw" "$1" "$2" "$3" >"$TMP/browser.tap" 2>&1
	brc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "browser: ${line#ok * - }" ;;
		"not ok "*) not_ok "browser: ${line#not ok * - }" ;;
		"# "*) echo "$line" ;;
		esac
	done <"$TMP/browser.tap"
	[ $brc = 0 ] && ok "browser run finished" || { not_ok "browser run finished (exit $brc)"; diag "$(tail -5 "$TMP/browser.tap")"; }
}
