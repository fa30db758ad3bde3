#!/usr/bin/env bash
# t1200: the agent (libkiln.so) preloaded into the agent-host workload:
# every endpoint answers with the right status and content type, /metrics
# passes promtool, the JSON endpoints parse and carry their fields, the
# leaking component is found, the pprof paths work with go tool pprof
# (the hot function, the allocation site), no debuginfod client is loaded
# into the host, and the host's stdout and exit code are the same with and
# without the agent.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/agent-lib.sh"
plan 34

start_host main KILN_AGENT_LEAK_INTERVAL=1 -- --seconds 60 --leak-kib-per-s 1024
if [ "$PORT" != 0 ] && poll 5 test "$(code "$URL/metrics")" = 200; then ok "the preloaded agent serves on port $PORT"
else not_ok "agent did not come up"; diag "$(cat "$TMP/main.err")"; fi

# ---- /metrics
fetch "$URL/metrics" >"$TMP/metrics.txt"
case "$(hdr Content-Type)" in
"text/plain; version=0.0.4"*) ok "/metrics: Prometheus text 0.0.4" ;;
*) not_ok "/metrics content type '$(hdr Content-Type)'" ;;
esac
if command -v promtool >/dev/null 2>&1; then
	if promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1; then ok "promtool check metrics: clean"
	else not_ok "promtool check metrics"; diag "$(head -20 "$TMP/promtool.out")"; fi
else
	skip "promtool is not installed (Debian package prometheus)"
fi
missing=""
for m in process_memory_rss_bytes process_memory_vss_bytes process_memory_heap_bytes \
	process_memory_allocations_total process_cpu_seconds_total process_resident_memory_bytes \
	process_virtual_memory_bytes process_open_fds process_max_fds process_start_time_seconds \
	process_threads process_memory_allocation_size_bytes_bucket process_memory_allocation_rate_bytes_per_second; do
	grep -q "^$m[ {]" "$TMP/metrics.txt" || missing="$missing $m"
done
if [ -z "$missing" ]; then ok "/metrics has the memory, allocation and process-collector metrics"
else not_ok "/metrics lacks:$missing"; fi
inf=$(sed -n 's/^process_memory_allocation_size_bytes_bucket{le="+Inf"} //p' "$TMP/metrics.txt")
cnt=$(sed -n 's/^process_memory_allocation_size_bytes_count //p' "$TMP/metrics.txt")
if [ -n "$inf" ] && [ "$inf" = "$cnt" ] && [ "$cnt" -gt 0 ]; then ok "histogram: +Inf bucket = _count = $cnt"
else not_ok "histogram +Inf '$inf' count '$cnt'"; fi
has_cache() { curl -s --max-time 5 "$URL/metrics" | grep -q '^process_memory_heap_component_bytes{component="cache"} [1-9]'; }
if poll 10 has_cache; then ok "heap by component: cache"
else not_ok "no process_memory_heap_component_bytes{component=\"cache\"}"; fi

# ---- JSON
jcheck() { # DESCRIPTION PATH PYTHON-ASSERTIONS (on d)
	fetch "$URL$2" >"$TMP/j.json"
	if [ "$(hdr Content-Type)" = application/json ] &&
		python3 -c "import json,sys,re; d = json.load(open(sys.argv[1])); $3" "$TMP/j.json" 2>"$TMP/j.err"; then ok "$1"
	else not_ok "$1"; diag "$(head -c 600 "$TMP/j.json")" "$(tail -3 "$TMP/j.err")"; fi
}
RFC3339='re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", d["timestamp"])'
jcheck "/metrics/memory: rss_mb, heap_mb, virtual_mb, an RFC 3339 timestamp" /metrics/memory \
	"assert d['rss_mb'] > 1 and d['heap_mb'] > 1 and d['virtual_mb'] >= d['rss_mb']; assert $RFC3339"
jcheck "/metrics/memory: the snapshot in bytes" /metrics/memory \
	"s = d['snapshot']; assert all(isinstance(s[k], int) for k in ('rss','heap','virtual','resident','shared','text','data','stack')); assert s['rss'] > 1000000 and s['virtual'] > s['rss']"
leaky() {
	curl -s --max-time 5 "$URL/metrics/leaks" >"$TMP/leaks.json"
	python3 -c "import json,sys; d = json.load(open(sys.argv[1])); assert d['potential_leak_count'] >= 1 and d['highest_risk_component'] == 'leaky'" "$TMP/leaks.json" 2>/dev/null
}
if poll 20 leaky; then ok "/metrics/leaks: the leaking component is found and named the highest risk"
else not_ok "/metrics/leaks did not flag 'leaky'"; diag "$(head -c 800 "$TMP/leaks.json")"; fi
jcheck "/metrics/leaks: potential leaks with component, count, size, growth, first and last seen" /metrics/leaks \
	"l = [x for x in d['potential_leaks'] if x['component'] == 'leaky'][0]; assert l['allocation_count'] > 0 and l['total_size'] > 1000000 and l['growth_rate_mb_per_hour'] > 10; assert l['first_seen'] <= l['last_seen']; assert isinstance(d['growth_rate_mb_per_hour'], (int, float)); assert 'cache' not in [x['component'] for x in d['potential_leaks']]"
jcheck "/metrics/allocations: top allocators with the allocation site" /metrics/allocations \
	"assert any(a['site'].startswith('agent_host_alloc_site') and a['component'] == 'cache' for a in d['top_allocators']); assert $RFC3339"
jcheck "/metrics/allocations: efficiency score, size distribution, recommendations" /metrics/allocations \
	"assert 0 <= d['efficiency_score'] <= 100; assert set(d['size_distribution']) == {'tiny','small','medium','large','huge'}; assert d['size_distribution']['small']['count'] > 0; assert isinstance(d['recommendations'], list) and any(r['kind'] == 'possible-leak' for r in d['recommendations'])"
if [ "$(code "$URL/metrics/allocations?limit=0")" = 400 ] && [ "$(code "$URL/metrics/allocations?limit=2")" = 200 ]; then ok "/metrics/allocations?limit: 400 out of range"
else not_ok "limit"; fi

# ---- /debug/pprof
fetch "$URL/debug/pprof/" >"$TMP/index.html"
if [ "$(hdr Content-Type)" = "text/html; charset=utf-8" ] && grep -q 'href="profile"' "$TMP/index.html" &&
	grep -q 'href="heap"' "$TMP/index.html"; then ok "/debug/pprof/: the index page"
else not_ok "/debug/pprof/ index"; fi
if [ "$(code "$URL/debug/pprof")" = 301 ]; then ok "/debug/pprof redirects to /debug/pprof/"; else not_ok "/debug/pprof"; fi
fetch "$URL/debug/pprof/cmdline" >"$TMP/cmdline"
printf '%s\0%s\0%s\0%s\0%s' "$H" --seconds 60 --leak-kib-per-s 1024 >"$TMP/cmdline.want"
if cmp -s "$TMP/cmdline" "$TMP/cmdline.want"; then ok "/debug/pprof/cmdline: NUL-separated argv"
else not_ok "cmdline"; diag "$(od -c "$TMP/cmdline" | head -3)"; fi
if [ "$(curl -s "$URL/debug/pprof/symbol")" = "num_symbols: 1" ]; then ok "/debug/pprof/symbol GET: num_symbols: 1"
else not_ok "symbol GET"; fi
# agent_host_hot_loop's address: the executable's base plus its ELF address
base=$(awk -v exe="$(readlink -f "$H")" '$6 == exe && $3 == "00000000" { print $1; exit }' "/proc/$PID/maps" | cut -d- -f1)
off=$(nm "$H" | awk '$3 == "agent_host_hot_loop" { print $1 }')
addr=$(printf '0x%x' $((0x$base + 0x$off)))
curl -s -X POST --data-binary "0x1+$addr" "$URL/debug/pprof/symbol" >"$TMP/sym.txt"
if [ "$(head -1 "$TMP/sym.txt")" = "num_symbols: 1" ] && grep -qx "$addr agent_host_hot_loop" "$TMP/sym.txt"; then
	ok "/debug/pprof/symbol POST: $addr is agent_host_hot_loop"
else not_ok "symbol POST $addr"; diag "$(cat "$TMP/sym.txt")"; fi
if grep -qx "$addr agent_host_hot_loop" <(curl -s "$URL/debug/pprof/symbol?$addr"); then ok "/debug/pprof/symbol GET with a query"
else not_ok "symbol GET ?addr"; fi

# ---- status codes
bad=""
for u in /nope /metrics/ /debug/pprof/goroutine /debug/pprof/nothing/here; do
	[ "$(code "$URL$u")" = 404 ] || bad="$bad $u"
done
if [ -z "$bad" ]; then ok "unknown paths: 404"; else not_ok "not 404:$bad"; fi
bad=""
for s in abc -1 0 301 1e3 99999999999 '3%00'; do
	[ "$(code "$URL/debug/pprof/profile?seconds=$s")" = 400 ] || bad="$bad $s"
done
if [ -z "$bad" ]; then ok "profile?seconds garbage, negative, zero or above 300: 400"; else not_ok "seconds not 400:$bad"; fi
c1=$(code -X POST -d x "$URL/metrics") c2=$(code -X PUT -d x "$URL/metrics/memory") c3=$(code -X DELETE "$URL/debug/pprof/heap")
fetch -X POST -d x "$URL/metrics" >/dev/null
if [ "$c1" = 405 ] && [ "$c2" = 405 ] && [ "$c3" = 405 ] && [ "$(hdr Allow)" = "GET, HEAD" ]; then ok "bad methods: 405 with Allow"
else not_ok "methods: $c1 $c2 $c3 allow '$(hdr Allow)'"; fi
if [ "$(code "$URL/debug/pprof/heap?debug=1")" = 400 ] && [ "$(code "$URL/debug/pprof/heap?gc=x")" = 400 ]; then ok "heap?debug=1 and gc=garbage: 400"
else not_ok "heap debug/gc"; fi
fetch -o "$TMP/heap.pb.gz" "$URL/debug/pprof/heap?gc=1&debug=0" >/dev/null
if [ "$(hdr Content-Type)" = application/octet-stream ] && [ "$(hdr Content-Disposition)" = 'attachment; filename="heap"' ] &&
	[ "$(head -c 2 "$TMP/heap.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then ok "heap?gc=1&debug=0: a gzipped profile, octet-stream, attachment"
else not_ok "heap profile: $(hdr Content-Type) / $(hdr Content-Disposition)"; fi

# ---- concurrent scrapes
pids=""
for i in 1 2 3 4 5 6 7 8; do
	{ code "$URL/metrics"; echo; } >"$TMP/par.$i" &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
if [ "$(cat "$TMP"/par.* | sort -u)" = 200 ]; then ok "8 concurrent scrapes: all 200"; else not_ok "concurrent: $(cat "$TMP"/par.* | tr '\n' ' ')"; fi

# ---- CPU profile: the scrapers' way (seconds=3 within 3 s, gzip), 409 meanwhile
curl -s --max-time 20 -D "$TMP/cpu.hdr" -o "$TMP/cpu.pb.gz" -w '%{time_total}' "$URL/debug/pprof/profile?seconds=3" >"$TMP/cpu.time" &
cpid=$!
sleep 1
c409=$(code "$URL/debug/pprof/profile?seconds=1")
wait $cpid
t=$(cat "$TMP/cpu.time")
if [ "$c409" = 409 ]; then ok "a second CPU profile at once: 409"; else not_ok "second CPU profile: $c409"; fi
if grep -qi '^content-type: application/octet-stream' "$TMP/cpu.hdr" && grep -qi '^content-disposition: attachment; filename="profile"' "$TMP/cpu.hdr" &&
	[ "$(head -c 2 "$TMP/cpu.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] && near "$t" 3 0.5; then
	ok "profile?seconds=3: gzipped, octet-stream, attachment, in ${t}s"
else not_ok "CPU profile (${t}s)"; diag "$(cat "$TMP/cpu.hdr")"; fi
# symbolizing it looked for debug info (some module has none): on this
# machine only, never through a debuginfod client loaded into the host
if ! grep -q libdebuginfod "/proc/$PID/maps"; then ok "no debuginfod client loaded into the host"
else not_ok "libdebuginfod is mapped in the host"; diag "$(grep -c '\.so' "/proc/$PID/maps") mappings of libraries"; fi

GO=$(command -v go || true)
if [ -z "$GO" ]; then
	for i in 1 2 3; do skip "go tool pprof: golang-go is not installed"; done
else
	mkdir -p "$TMP/home" "$TMP/gopath" "$TMP/pprof"
	export HOME=$TMP/home GOPATH=$TMP/gopath GOCACHE=$TMP/gocache PPROF_TMPDIR=$TMP/pprof
	timeout 60 "$GO" tool pprof -top "$URL/debug/pprof/profile?seconds=3" >"$TMP/gocpu.txt" 2>&1
	if awk '$NF == "agent_host_hot_loop" { gsub("%", "", $2); if ($2 + 0 >= 30) f = 1 } END { exit !f }' "$TMP/gocpu.txt"; then
		ok "go tool pprof -top on /debug/pprof/profile: agent_host_hot_loop is hot"
	else not_ok "go tool pprof CPU"; diag "$(head -14 "$TMP/gocpu.txt")"; fi
	timeout 60 "$GO" tool pprof -top "$URL/debug/pprof/heap" >"$TMP/goheap.txt" 2>&1
	if grep -q 'Type: inuse_space' "$TMP/goheap.txt" && grep -q ' agent_host_alloc_site$' "$TMP/goheap.txt"; then
		ok "go tool pprof -top on /debug/pprof/heap: agent_host_alloc_site"
	else not_ok "go tool pprof heap"; diag "$(head -14 "$TMP/goheap.txt")"; fi
	timeout 60 "$GO" tool pprof -top "$URL/debug/pprof/allocs" >"$TMP/goallocs.txt" 2>&1
	if grep -q 'Type: alloc_space' "$TMP/goallocs.txt" && grep -q ' agent_host_alloc_site$' "$TMP/goallocs.txt"; then
		ok "go tool pprof -top on /debug/pprof/allocs: alloc_space by default"
	else not_ok "go tool pprof allocs"; diag "$(head -14 "$TMP/goallocs.txt")"; fi
fi

kill -TERM "$PID"
wait "$PID"
rc=$?
if [ "$rc" = 0 ] && [ ! -s "$TMP/main.err" ] && tail -1 "$TMP/main.out" | grep -q '^agent-host: done'; then ok "the host ends normally on SIGTERM, nothing on stderr"
else not_ok "host exit $rc"; diag "$(cat "$TMP/main.err")"; fi

# ---- the host's output, exit code and signal handler: the same without the agent
run_host() { # NAME ENV...: runs 3 s, one SIGUSR1 after it is up, exit code 3
	local name=$1
	shift
	env "$@" "$H" --seconds 3 --exit-code 3 >"$TMP/$name.out" 2>"$TMP/$name.err" &
	local p=$!
	poll 5 grep -q running "$TMP/$name.out"
	kill -USR1 $p
	poll 5 grep -q usr1 "$TMP/$name.out"
	wait $p
	echo $? >"$TMP/$name.rc"
}
run_host with LD_PRELOAD="$LIBKILN" KILN_AGENT=127.0.0.1:0
run_host without KILN_UNUSED=1
if cmp -s "$TMP/with.out" "$TMP/without.out" && [ "$(cat "$TMP/with.rc")" = 3 ] && [ "$(cat "$TMP/without.rc")" = 3 ]; then
	ok "stdout byte-identical and exit code 3 kept, the host's SIGUSR1 handler runs"
else not_ok "with/without differ (rc $(cat "$TMP/with.rc") / $(cat "$TMP/without.rc"))"; diag "$(diff "$TMP/without.out" "$TMP/with.out")"; fi
if [ ! -s "$TMP/with.err" ]; then ok "the agent writes nothing on the host's stderr"; else not_ok "stderr"; diag "$(cat "$TMP/with.err")"; fi
done_testing
