#!/usr/bin/env bash
# t1250: libmicrohttpd (and gnutls behind it) is loaded only when the agent
# serves: a host with libkiln.so preloaded or linked but no server maps
# neither and keeps nothing allocated from the load; KILN_AGENT or
# kiln_agent_start loads it and serves as before, and what the loader and
# the start allocate on a host thread is not the host's (exact counters,
# heap profile); a library that cannot be loaded gets one warning and the
# host runs on. The broken libraries come first in LD_LIBRARY_PATH: the
# shipped library has no test-only switch, and dlopen fails as it would
# for a user.
. "$(dirname "$0")/lib.sh"

HL=$WORKLOADS/agent-host-linked
IDLE=$WORKLOADS/agent-idle
. "$(dirname "$0")/agent-lib.sh"
[ -x "$IDLE" ] || skip_all "workload $IDLE not built"
plan 10

SERVER_LIBS='libmicrohttpd|libgnutls|libnettle|libhogweed|libp11-kit|libtasn1'
# maps_of PID NAME: a copy of its /proc/PID/maps in $TMP/NAME.maps
maps_of() { cp "/proc/$1/maps" "$TMP/$2.maps" 2>/dev/null || : >"$TMP/$2.maps"; }
# wait_line FILE REGEX: until the host printed the line (5 s at most)
wait_line() { for _ in $(seq 50); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# metric NAME: its value in $TMP/metrics
metric() { awk -v m="$1" '$1 == m { print $2 }' "$TMP/metrics"; }

# ---- no server: nothing of the server in the address space
LD_PRELOAD=$LIBKILN "$IDLE" --seconds 5 >"$TMP/pre.out" 2>"$TMP/pre.err" &
pid=$!
wait_line "$TMP/pre.out" '^agent-idle: running'
maps_of $pid pre
wait $pid
rc=$?
if [ "$rc" = 0 ] && grep -q '/libkiln\.so$' "$TMP/pre.maps" && ! grep -Eq "$SERVER_LIBS" "$TMP/pre.maps" &&
	[ ! -s "$TMP/pre.err" ]; then
	ok "preloaded without KILN_AGENT: libkiln.so is mapped, libmicrohttpd and gnutls are not"
else
	not_ok "preloaded without KILN_AGENT (exit $rc)"; diag "$(grep -E "$SERVER_LIBS|libkiln" "$TMP/pre.maps" | head)" "$(cat "$TMP/pre.err")"
fi
live=$(awk 'NR == 1 { print $3 }' "$TMP/pre.out")
if [ -n "$live" ] && [ "$live" -lt 16384 ]; then
	ok "loading libkiln.so leaves $live bytes allocated at main (under 16 KiB)"
else
	not_ok "allocated at main: '$live'"; diag "$(head -1 "$TMP/pre.out")"
fi

"$HL" --seconds 5 >"$TMP/linked.out" 2>"$TMP/linked.err" &
pid=$!
wait_line "$TMP/linked.out" '^agent-host: running'
maps_of $pid linked
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
if [ "$rc" = 0 ] && grep -q '/libkiln\.so$' "$TMP/linked.maps" && ! grep -Eq "$SERVER_LIBS" "$TMP/linked.maps"; then
	ok "linked with -lkiln, no server started: libmicrohttpd and gnutls are not mapped"
else
	not_ok "linked host (exit $rc)"; diag "$(grep -E "$SERVER_LIBS|libkiln" "$TMP/linked.maps" | head)" "$(cat "$TMP/linked.err")"
fi

# ---- KILN_AGENT: loaded at the constructor, serves as before
H=$IDLE start_host env -- --seconds 30
maps_of "$PID" env
c=$(code "$URL/metrics")
fetch "$URL/metrics" >"$TMP/metrics"
if [ "$c" = 200 ] && [ -n "$(metric process_memory_rss_bytes)" ] && grep -q '/libmicrohttpd\.so' "$TMP/env.maps"; then
	ok "KILN_AGENT: libmicrohttpd loaded at start, /metrics serves"
else
	not_ok "KILN_AGENT: HTTP $c"; diag "$(head -5 "$TMP/metrics")" "$(cat "$TMP/env.err")"
fi
kill -TERM "$PID" 2>/dev/null
wait "$PID"

# ---- kiln_agent_start from main: the load and the start are the agent's
rm -f "$TMP/start.port"
LD_PRELOAD=$LIBKILN KILN_AGENT_HEAP_RATE=1 KILN_AGENT_PORT_FILE="$TMP/start.port" \
	"$IDLE" --start 127.0.0.1:0 --seconds 30 >"$TMP/start.out" 2>"$TMP/start.err" &
pid=$!
wait_line "$TMP/start.out" '^agent-idle: running'
PORT=$(cat "$TMP/start.port" 2>/dev/null || echo 0)
URL=http://127.0.0.1:$PORT
maps_of $pid start
fetch "$URL/metrics" >"$TMP/metrics"
allocs=$(metric process_memory_allocations_total) bytes=$(metric process_memory_allocated_bytes_total)
if grep -q '^agent-idle: started' "$TMP/start.out" && grep -q '/libmicrohttpd\.so' "$TMP/start.maps" &&
	[ -n "$allocs" ] && [ "$allocs" -le 4 ] && [ -n "$bytes" ] && [ "$bytes" -le 16384 ]; then
	ok "kiln_agent_start loads libmicrohttpd; the host's counters hold its own $allocs allocations ($bytes bytes) only"
else
	not_ok "counters after kiln_agent_start: $allocs allocations, $bytes bytes"
	diag "$(cat "$TMP/start.out" "$TMP/start.err")" "$(grep '^process_memory_all' "$TMP/metrics")"
fi
curl -s --max-time 20 -o "$TMP/allocs.pb.gz" "$URL/debug/pprof/allocs"
"$KILN" collapse "$TMP/allocs.pb.gz" >"$TMP/allocs.folded" 2>"$TMP/collapse.err"
if grep -q ';main;' "$TMP/allocs.folded" &&
	! grep -Eq "$SERVER_LIBS|MHD_|dlopen|_dl_open|_dl_map|kiln_agent_start|pthread_create" "$TMP/allocs.folded"; then
	ok "every allocation sampled: the host's are there, none of the loader's, libmicrohttpd's or the start's"
else
	not_ok "allocs profile"; diag "$(head -20 "$TMP/allocs.folded")" "$(cat "$TMP/collapse.err")"
fi
kill -TERM $pid 2>/dev/null
wait $pid

# ---- libmicrohttpd that cannot be loaded: one warning, the host runs on
mkdir -p "$TMP/empty" "$TMP/other"
: >"$TMP/empty/libmicrohttpd.so.12"
ln -s "$WORKLOADS/libkilnwork.so" "$TMP/other/libmicrohttpd.so.12"
# broken NAME DIR [ARGS]: runs agent-idle with DIR first in the library path
broken() {
	local name=$1 dir=$2
	shift 2
	LD_LIBRARY_PATH=$dir LD_PRELOAD=$LIBKILN KILN_AGENT_PORT_FILE="$TMP/$name.port" "$IDLE" --seconds 0.5 "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
}
KILN_AGENT=127.0.0.1:0 broken short "$TMP/empty"
rc=$?
if [ "$rc" = 0 ] && grep -q '^agent-idle: running' "$TMP/short.out" && [ "$(wc -l <"$TMP/short.err")" = 1 ] &&
	grep -q '^kiln agent: cannot load libmicrohttpd.so.12 (.*file too short); the agent cannot serve$' "$TMP/short.err" &&
	[ ! -e "$TMP/short.port" ]; then
	ok "KILN_AGENT, libmicrohttpd unloadable: one warning with dlopen's reason, no port, the host runs and exits 0"
else
	not_ok "unloadable at start (exit $rc)"; diag "$(cat "$TMP/short.out" "$TMP/short.err")"
fi
broken call "$TMP/empty" --start 127.0.0.1:0
rc=$?
if [ "$rc" = 0 ] && grep -q '^agent-idle: kiln_agent_start: Can not access a needed shared library$' "$TMP/call.out" &&
	grep -q '^agent-idle: running' "$TMP/call.out" && [ "$(wc -l <"$TMP/call.err")" = 1 ] &&
	grep -q '^kiln agent: cannot load libmicrohttpd.so.12' "$TMP/call.err"; then
	ok "kiln_agent_start, libmicrohttpd unloadable: -ELIBACC, one warning, the host runs on"
else
	not_ok "unloadable at kiln_agent_start (exit $rc)"; diag "$(cat "$TMP/call.out" "$TMP/call.err")"
fi
KILN_AGENT=127.0.0.1:0 broken other "$TMP/other"
rc=$?
if [ "$rc" = 0 ] && grep -q '^agent-idle: running' "$TMP/other.out" && [ "$(wc -l <"$TMP/other.err")" = 1 ] &&
	grep -q '^kiln agent: libmicrohttpd.so.12 has no MHD_start_daemon; the agent cannot serve$' "$TMP/other.err"; then
	ok "a libmicrohttpd.so.12 without its functions: one warning naming the missing one, the host runs on"
else
	not_ok "library without the functions (exit $rc)"; diag "$(cat "$TMP/other.out" "$TMP/other.err")"
fi
broken other2 "$TMP/other" --start 127.0.0.1:0
rc=$?
if [ "$rc" = 0 ] && grep -q '^agent-idle: kiln_agent_start: Accessing a corrupted shared library$' "$TMP/other2.out" &&
	[ "$(wc -l <"$TMP/other2.err")" = 1 ]; then
	ok "kiln_agent_start with it: -ELIBBAD, one warning"
else
	not_ok "library without the functions at kiln_agent_start (exit $rc)"; diag "$(cat "$TMP/other2.out" "$TMP/other2.err")"
fi
done_testing
