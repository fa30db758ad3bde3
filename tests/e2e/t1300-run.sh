#!/usr/bin/env bash
# t1300: kiln run, the whole session: the results folder for every
# profiler on workloads with known truths (shares: work_a ~60% of CPU;
# heap-known: exactly 48 bytes definitely lost in 3 blocks, peak 7096;
# mem-grow: peak ~80 MiB over the baseline), a real HTTP server made ready
# by http: and loaded, --duration bounding the load, the stop escalation
# (a target ignoring SIGINT, then SIGTERM too), Ctrl-C to kiln run, and
# the errors: never ready, dead before ready, no such program, a folder in
# use, bad usage. Tolerances are wide: CI is a loaded 2-core machine.
. "$(dirname "$0")/lib.sh"

[ -x "$WORKLOADS/shares" ] || skip_all "workloads not built in $WORKLOADS"
plan 42

json() { # json FILE PYTHON-EXPRESSION-ON-s
	python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}
svg_ok() { python3 -c 'import sys, xml.dom.minidom as m; assert m.parse(sys.argv[1]).documentElement.tagName == "svg"' "$1" 2>/dev/null; }
has_files() { local d=$1; shift; for f in "$@"; do [ -s "$d/$f" ] || { echo "missing $d/$f"; return 1; }; done; }

# ---- CPU, heap and memory on the shares workload --------------------------
R=$TMP/shares
"$KILN" run --cpu --heap --mem -F 199 -o "$R" -- "$WORKLOADS/shares" 2 >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" = 0 ]; then ok "kiln run --cpu --heap --mem -- shares exits 0"; else not_ok "exit $rc"; diag "$(cat "$TMP/err")"; fi
check "every file of the three profilers is there" has_files "$R" cpu.pb.gz flame.svg report.txt heap.kht heap.pb.gz \
	heap.svg leaks.txt mem.csv mem.svg summary.json
check "cpu.pb.gz is read by kiln report" "$KILN" report "$R/cpu.pb.gz"
check "flame.svg, heap.svg and mem.svg are well formed" sh -c "$(declare -f svg_ok); svg_ok '$R/flame.svg' && svg_ok '$R/heap.svg' && svg_ok '$R/mem.svg'"
if grep -q 'work_a' "$R/report.txt"; then ok "report.txt names work_a"; else not_ok "report.txt"; diag "$(head -20 "$R/report.txt")"; fi
share=$(json "$R/summary.json" '[f["total_pct"] for f in s["cpu"]["top"] if f["name"] == "work_a"][0]')
if [ -n "$share" ] && near "$share" 60 12; then ok "summary: work_a has $share% of the CPU (~60)"
else not_ok "summary: work_a share '$share'"; diag "$(json "$R/summary.json" 's["cpu"]')"; fi
got=$(json "$R/summary.json" '(s["name"], s["target_end"], s["stopped_by"], s["cpu"]["samples"] > 50, s["cpu"]["frequency_hz"])')
if [ "$got" = "('shares', 'exited 0', None, True, 199.0)" ]; then ok "summary: name, exit, nobody stopped it, samples at 199 Hz"
else not_ok "summary header: $got"; fi
rows=$(($(wc -l <"$R/mem.csv") - 1))
if [ "$rows" -ge 3 ] && [ "$rows" = "$(json "$R/summary.json" 's["mem"]["samples"]')" ]; then ok "mem.csv: $rows rows, as summary.mem.samples says"
else not_ok "mem.csv rows $rows"; fi
if grep -q '^kiln run: results in ' "$TMP/out" && grep -Eq '^ +[0-9.]+%  (spin|work_a)$' "$TMP/out" && grep -q 'peak RSS' "$TMP/out"; then ok "the human summary: folder, top functions, mem peak"
else not_ok "human summary"; diag "$(cat "$TMP/out")"; fi

# ---- a known leak -----------------------------------------------------------
H=$WORKLOADS/heap-known
R=$TMP/heap
"$KILN" run -q --heap -o "$R" -- "$H" >"$TMP/out" 2>&1
got=$(json "$R/summary.json" '(s["heap"]["definitely_lost_bytes"], s["heap"]["definitely_lost_blocks"], s["heap"]["peak_bytes"], s["has_cpu"] if "has_cpu" in s else "cpu" in s)')
if [ "$got" = "(48, 3, 7096, False)" ]; then ok "heap-known: 48 bytes in 3 blocks definitely lost, peak 7096, no CPU section"
else not_ok "heap-known summary: $got"; diag "$(cat "$TMP/out")"; fi
if grep -q 'definitely lost: 48 bytes in 3 blocks' "$R/leaks.txt" && grep -q 'are definitely lost' "$R/leaks.txt"; then ok "leaks.txt: the full leak report"
else not_ok "leaks.txt"; diag "$(cat "$R/leaks.txt")"; fi
check "heap.pb.gz is read by kiln report" "$KILN" report "$R/heap.pb.gz"
check "heap.kht is re-analysed by kiln heap report" "$KILN" heap report "$R/heap.kht"
[ ! -e "$R/cpu.pb.gz" ] && ok "no cpu.pb.gz without --cpu" || not_ok "cpu.pb.gz without --cpu"

# ---- memory growth ------------------------------------------------------------
R=$TMP/mem
"$KILN" run -q --mem -o "$R" -- "$WORKLOADS/mem-grow" >"$TMP/out" 2>&1
peak=$(json "$R/summary.json" 's["mem"]["peak_rss"] / 1048576')
if [ -n "$peak" ] && near "$peak" 86 9; then ok "mem-grow: peak RSS $peak MiB ~ 80 MiB + baseline"
else not_ok "mem-grow peak '$peak'"; diag "$(cat "$TMP/out")"; fi

# ---- off-CPU --------------------------------------------------------------------
R=$TMP/off
if "$KILN" run -q --off-cpu -o "$R" -- sleep 1 >"$TMP/out" 2>&1; then
	w=$(json "$R/summary.json" 's["offcpu"]["wait_s"]')
	if [ -n "$w" ] && near "$w" 1.1 0.4 && has_files "$R" offcpu.pb.gz offcpu.svg cpu.pb.gz >/dev/null; then ok "--off-cpu: ${w}s waiting in sleep 1, offcpu.pb.gz and offcpu.svg"
	else not_ok "--off-cpu wait_s '$w'"; diag "$(json "$R/summary.json" 's["offcpu"]')"; fi
	check "offcpu.pb.gz is read by kiln report" "$KILN" report "$R/offcpu.pb.gz"
else
	skip "--off-cpu not permitted here: $(head -1 "$TMP/out")"
	skip "offcpu.pb.gz"
fi

# ---- a real HTTP server: http readiness, load, SIGINT -------------------------
PORT=$((20000 + $$ % 20000))
R=$TMP/http
LOAD='python3 -c "import os, urllib.request as u
for i in range(5): u.urlopen(\"http://127.0.0.1:%s/\" % os.environ[\"KILN_PORT\"]).read()
print(\"loaded\", os.environ[\"KILN_TARGET_PID\"])"'
"$KILN" run -q --ready "http:127.0.0.1:$PORT/" --load "$LOAD" -o "$R" -- \
	python3 -m http.server "$PORT" --bind 127.0.0.1 >"$TMP/out" 2>&1
rc=$?
got=$(json "$R/summary.json" '(s["stopped_by"], s["load_exit"], s["load_command"] is not None)')
if [ "$rc" = 0 ] && [ "$got" = "('SIGINT', 0, True)" ]; then ok "http server: ready by http:, load exit 0, stopped by SIGINT"
else not_ok "http server: exit $rc, $got"; diag "$(cat "$TMP/out")" "$(tail -5 "$R/target.log" 2>/dev/null)"; fi
if grep -q '^loaded [0-9]' "$R/load.log" && grep -q 'GET / ' "$R/target.log"; then ok "load.log and target.log hold their output"
else not_ok "logs"; diag "$(cat "$R/load.log" "$R/target.log" 2>&1 | head)"; fi

# tcp readiness and --duration bounding a load that would run on
R=$TMP/dur
start=$(date +%s)
"$KILN" run -q --ready "tcp:$PORT" --load 'sleep 30' --duration 1 -o "$R" -- \
	python3 -m http.server "$PORT" --bind 127.0.0.1 >"$TMP/out" 2>&1
rc=$?
took=$(($(date +%s) - start))
got=$(json "$R/summary.json" '(s["load_exit"], round(s["load_s"]), s["stopped_by"])')
if [ "$rc" = 0 ] && [ "$got" = "(-1, 1, 'SIGINT')" ] && [ "$took" -lt 10 ]; then ok "--duration 1 stops the load after 1 s (load_exit -1), then the target"
else not_ok "--duration: exit $rc, $got, ${took}s"; diag "$(cat "$TMP/out")"; fi

# ---- the stop escalation ---------------------------------------------------------------
R=$TMP/noint
"$KILN" run -q --mem --duration 300ms --stop-timeout 0.5s -o "$R" -- sh -c 'trap "" INT; sleep 30' >"$TMP/out" 2>&1
got=$(json "$R/summary.json" '(s["stopped_by"], s["target_end"])')
if [ "$got" = "('SIGTERM', 'killed by SIGTERM')" ]; then ok "a target ignoring SIGINT gets SIGTERM"; else not_ok "ignoring SIGINT: $got"; diag "$(cat "$TMP/out")"; fi
R=$TMP/noterm
start=$(date +%s)
"$KILN" run -q --mem --duration 0.3 --stop-timeout 0.5 -o "$R" -- sh -c 'trap "" INT TERM; sleep 30' >"$TMP/out" 2>&1
rc=$?
took=$(($(date +%s) - start))
got=$(json "$R/summary.json" '(s["stopped_by"], s["target_end"])')
if [ "$rc" = 0 ] && [ "$got" = "('SIGKILL', 'killed by SIGKILL')" ] && [ "$took" -lt 6 ]; then ok "a target ignoring SIGINT and SIGTERM gets SIGKILL after the timeouts (${took}s)"
else not_ok "ignoring SIGTERM: exit $rc, $got, ${took}s"; diag "$(cat "$TMP/out")"; fi
check "... and its memory samples are kept" has_files "$R" mem.csv mem.svg summary.json

# ---- Ctrl-C to kiln run ------------------------------------------------------------
R=$TMP/ctrlc
"$KILN" run -q --cpu --mem -o "$R" -- "$WORKLOADS/shares" 30 >"$TMP/out" 2>&1 &
kpid=$!
sleep 2
kill -INT "$kpid"
wait "$kpid"
rc=$?
got=$(json "$R/summary.json" '(s["stopped_by"], s["cpu"]["samples"] > 20, s["mem"]["samples"] > 2)')
if [ "$rc" = 0 ] && [ "$got" = "('SIGINT', True, True)" ]; then ok "Ctrl-C on kiln run: the target gets SIGINT, everything recorded is written"
else not_ok "Ctrl-C: exit $rc, $got"; diag "$(cat "$TMP/out")"; fi
check "... cpu.pb.gz is readable" "$KILN" report "$R/cpu.pb.gz"

# ---- errors ------------------------------------------------------------------------------
R=$TMP/never
exit_code "never ready: exit 1" 1 "$KILN" run -q --ready "tcp:$PORT" --ready-timeout 1 -o "$R" -- sleep 30
if grep -q "'sleep' was not ready after 1 s (tcp:$PORT)" "$TMP/exit.out" && [ "$(json "$R/summary.json" 's["stopped_by"]')" = SIGINT ]; then ok "... with a clear message; the target was stopped, results written"
else not_ok "never ready message"; diag "$(cat "$TMP/exit.out")"; fi
R=$TMP/dies
exit_code "dead before ready: exit 1" 1 "$KILN" run -q --ready "tcp:$PORT" -o "$R" -- sh -c 'echo boom-on-stderr >&2; exit 3'
if grep -q "exited with status 3 before it was ready" "$TMP/exit.out" && grep -q 'boom-on-stderr' "$TMP/exit.out"; then ok "... says how it ended and shows the end of target.log"
else not_ok "dead before ready message"; diag "$(cat "$TMP/exit.out")"; fi
R=$TMP/noexec
exit_code "a program that does not exist: exit 1" 1 "$KILN" run -o "$R" -- /nonexistent/prog
if grep -q "cannot run '/nonexistent/prog': No such file" "$TMP/exit.out" && [ ! -e "$R" ]; then ok "... clear message, no folder left behind"
else not_ok "exec failure"; diag "$(cat "$TMP/exit.out")"; ls "$R" 2>&1 | head -3; fi
exit_code "a folder that is not empty is refused: exit 1" 1 "$KILN" run -o "$TMP/shares" -- true
if grep -q 'is not empty' "$TMP/exit.out"; then ok "... with a clear message"; else not_ok "non-empty folder message"; diag "$(cat "$TMP/exit.out")"; fi
mkdir "$TMP/empty"
exit_code "an empty existing folder is used" 0 "$KILN" run -q -o "$TMP/empty" -- true
exit_code "a failing load command: exit 1" 1 "$KILN" run -q --load 'exit 7' -o "$TMP/badload" -- sleep 30
if grep -q 'the load command exited with status 7' "$TMP/exit.out" && [ "$(json "$TMP/badload/summary.json" 's["load_exit"]')" = 7 ]; then ok "... said, and load_exit 7 in summary.json"
else not_ok "failing load"; diag "$(cat "$TMP/exit.out")"; fi
exit_code "no target: usage error 2" 2 "$KILN" run --cpu
exit_code "a bad --ready: usage error 2" 2 "$KILN" run --ready ftp:1 -- true
exit_code "a --duration that is no time (5x): usage error 2" 2 "$KILN" run --duration 5x -- true
exit_code "a results folder that cannot be created: exit 1" 1 "$KILN" run -q -o /proc/kiln-run-test -- true
if grep -q "cannot create the results folder '/proc/kiln-run-test'" "$TMP/exit.out"; then ok "... with a clear message"
else not_ok "uncreatable folder message"; diag "$(cat "$TMP/exit.out")"; fi

# ---- the demo server, when the examples are built ----------------------------------------
DEMO=$(dirname "$KILN")/examples/demo-server
LOADGEN=$(dirname "$KILN")/examples/loadgen
if [ -x "$DEMO" ] && [ -x "$LOADGEN" ]; then
	R=$TMP/demo
	"$KILN" run -q --cpu --heap --mem --ready "tcp:$PORT" --load "$LOADGEN --port \$KILN_PORT --duration 2" \
		-o "$R" -- "$DEMO" --port "$PORT" >"$TMP/out" 2>&1
	got=$(json "$R/summary.json" '(s["stopped_by"], s["load_exit"], s["cpu"]["samples"] > 0, s["heap"]["allocations"] > 0)')
	if [ "$got" = "('SIGINT', 0, True, True)" ]; then ok "demo-server under loadgen: all three profilers"; else not_ok "demo: $got"; diag "$(cat "$TMP/out")"; fi
else
	skip "examples/demo-server and loadgen are not built next to $KILN"
fi
done_testing
