#!/usr/bin/env bash
# t1290: examples/: demo-server's routes and status codes (keep-alive,
# pipelining, malformed and oversized requests, clients that vanish), loadgen's
# summary, exact counts and exit status, a clean exit 0 on SIGINT even under
# load, and kiln heap's leak summary on the server: exactly
# REPORT_LEAK_BYTES definitely lost per /report request that loadgen made.
. "$(dirname "$0")/lib.sh"

EX=$(dirname "$KILN")/examples
[ -x "$EX/demo-server" ] && [ -x "$EX/loadgen" ] || skip_all "examples not built next to $KILN (make examples)"
plan 24

# REPORT_LEAK_BYTES in examples/demo-server.c (and examples/README.md): what
# every /report request leaks, in one block
REPORT_LEAK_BYTES=1000

SERVER_PID= server_pid=
trap 'kill -KILL $SERVER_PID $server_pid 2>/dev/null; rm -rf "$TMP"' EXIT

# start_server NAME COMMAND...: runs COMMAND (which starts demo-server with
# --port 0) in the background; sets SERVER_PID and PORT from its first line
start_server() {
	local name=$1 i
	shift
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	SERVER_PID=$! PORT=
	for i in $(seq 100); do
		PORT=$(sed -n 's/^demo-server: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$TMP/$name.out")
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	return 1
}
# running PID: true while PID is neither gone nor a zombie
running() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "${st:0:1}" != Z ]; }
# stop PID SECONDS: SIGINT, then the exit status (124 when still running
# after SECONDS: then it is killed)
stop() {
	local pid=$1 n=$(($2 * 20))
	kill -INT "$pid"
	while running "$pid" && [ "$n" -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	if running "$pid"; then kill -KILL "$pid"; wait "$pid" 2>/dev/null; return 124; fi
	return 0
}
# raw BYTES: sends printf BYTES on a new connection, prints all that comes
# back until the server closes it (5 s at most)
raw() {
	local fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	printf "$1" >&"$fd"
	timeout 5 cat <&"$fd" 2>/dev/null # a reset after an early answer is fine
	exec {fd}>&-
}
# get PATH: the response (headers and body) to GET PATH, into $TMP/resp
get() {
	if command -v curl >/dev/null 2>&1; then
		curl -si --max-time 5 "http://127.0.0.1:$PORT$1" >"$TMP/resp"
	else
		raw "GET $1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" >"$TMP/resp"
	fi
}
status() { sed -n '1s/^HTTP\/1\.1 \([0-9][0-9][0-9]\) .*/\1/p' "${1:-$TMP/resp}"; }
body() { sed '1,/^\r$/d' "${1:-$TMP/resp}"; }
# expect DESCRIPTION PATH STATUS BODY-REGEX
expect() {
	get "$2"
	if [ "$(status)" = "$3" ] && body | grep -Eq "$4"; then ok "$1"
	else not_ok "$1"; diag "$(head -c 600 "$TMP/resp")"; fi
}
# with commas, as kiln heap prints byte counts
commas() { echo "$1" | sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }

# ---- the routes
if start_server plain "$EX/demo-server" --port 0 --threads 3; then ok "demo-server listens (port $PORT)"
else not_ok "demo-server did not say where it listens"; diag "$(cat "$TMP/plain.out" "$TMP/plain.err")"; fi
expect "/healthz: 200 ok" /healthz 200 '^ok$'
expect "/hash?n=2000: 200 and the hash" '/hash?n=2000' 200 '^hash_rounds\(2000\) = [0-9a-f]{16}$'
cp "$TMP/resp" "$TMP/hash1"
get '/hash?n=2000'
if [ "$(body)" = "$(body "$TMP/hash1")" ]; then ok "/hash: the same n, the same hash"; else not_ok "/hash differs"; fi
expect "/item?id=42: 200, the item's text, a cache miss" '/item?id=42' 200 '^item 42 line 00 [0-9a-f]{16}$'
miss=$(grep -ci '^X-Cache: miss' "$TMP/resp")
body >"$TMP/item1"
get '/item?id=42'
body >"$TMP/item2"
if [ "$miss" = 1 ] && grep -qi '^X-Cache: hit' "$TMP/resp" && cmp -s "$TMP/item1" "$TMP/item2" && [ "$(wc -l <"$TMP/item1")" -ge 16 ]
then ok "/item?id=42 again: a hit (the first a miss) with the same body"
else not_ok "/item again"; diag "$(head -c 400 "$TMP/resp")"; fi
expect "/report: 200 and the server's counts" /report 200 '^requests [0-9]+: hash 2, item 2, report 0$'
expect "an unknown path: 404" /nope 404 'not found'
get '/hash?n=abc'
s1=$(status)
get '/item?id=-1'
if [ "$s1" = 400 ] && [ "$(status)" = 400 ] && body | grep -q '^id: a number'; then ok "/hash?n=abc and /item?id=-1: 400"
else not_ok "bad query: status $s1 and $(status)"; fi

raw 'garbage\r\n\r\n' >"$TMP/bad"
if [ "$(status "$TMP/bad")" = 400 ] && grep -qi '^Connection: close' "$TMP/bad"; then ok "a malformed request: 400, then the server closes"
else not_ok "malformed request"; diag "$(head -c 300 "$TMP/bad")"; fi
raw "GET / HTTP/1.1\r\nX-Long: $(head -c 9000 /dev/zero | tr '\0' a)" >"$TMP/big"
if [ "$(status "$TMP/big")" = 431 ]; then ok "a request head over 8 KiB: 431"
else not_ok "oversized request: '$(head -1 "$TMP/big")'"; fi
raw 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /hash?n=5 HTTP/1.1\r\nHost: t\r\n\r\nGET /item?id=42 HTTP/1.1\r\nConnection: close\r\n\r\n' >"$TMP/pipe"
if [ "$(grep -c '^HTTP/1.1 200 OK' "$TMP/pipe")" = 3 ] && grep -q '^item 42 line 31 ' "$TMP/pipe" &&
	[ "$(grep -ci '^Connection: keep-alive' "$TMP/pipe")" = 2 ]
then ok "keep-alive: three pipelined requests on one connection, Connection: close honoured"
else not_ok "pipelined requests"; diag "$(head -c 600 "$TMP/pipe")"; fi
raw 'GET /healthz HTTP/1.0\r\n\r\n' >"$TMP/http10"
if [ "$(status "$TMP/http10")" = 200 ] && grep -qi '^Connection: close' "$TMP/http10"; then ok "HTTP/1.0: answered, then closed"
else not_ok "HTTP/1.0"; diag "$(head -c 300 "$TMP/http10")"; fi

# clients that vanish: mid-request, after a request without reading, garbage
for i in $(seq 20); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
	case $((i % 3)) in
	0) printf 'GET /hash?n=10' >&"$fd" ;;
	1) printf 'GET /item?id=%d HTTP/1.1\r\n\r\nGET /hash?n=100000 HTTP/1.1\r\n\r\n' "$i" >&"$fd" ;;
	2) head -c 3000 /dev/urandom >&"$fd" 2>/dev/null ;;
	esac
	exec {fd}>&-
done
expect "after 20 clients that vanished or sent garbage, still serving" /healthz 200 '^ok$'

# ---- loadgen
"$EX/loadgen" --port "$PORT" --connections 4 --duration 2 >"$TMP/lg.out" 2>"$TMP/lg.err"
rc=$?
if [ $rc = 0 ] && grep -Eq '^loadgen: [1-9][0-9]* requests in [0-9.]+ s, [0-9.]+ requests/s, 0 errors$' "$TMP/lg.out" &&
	grep -Eq '^loadgen: routes: hash [1-9][0-9]* item [1-9][0-9]* report [0-9]+$' "$TMP/lg.out" &&
	grep -Eq '^loadgen: latency p50 [0-9.]+ ms, p90 [0-9.]+ ms, p99 [0-9.]+ ms' "$TMP/lg.out"
then ok "loadgen --duration 2: exit 0, requests, routes and latency lines"
else not_ok "loadgen --duration 2 (exit $rc)"; diag "$(cat "$TMP/lg.out" "$TMP/lg.err")"; fi
"$EX/loadgen" --port "$PORT" --connections 3 --requests 500 --mix hash:1,item:1,report:1,healthz:1 >"$TMP/n1.out" 2>&1
"$EX/loadgen" --port "$PORT" --connections 3 --requests 500 --mix hash:1,item:1,report:1,healthz:1 >"$TMP/n2.out" 2>&1
r1=$(grep routes: "$TMP/n1.out")
if [ -n "$r1" ] && [ "$r1" = "$(grep routes: "$TMP/n2.out")" ] && grep -q '^loadgen: 500 requests in' "$TMP/n1.out" &&
	[ "$(echo "$r1" | awk '{ print $4 + $6 + $8 + $10 }')" = 500 ]
then ok "loadgen --requests 500: exactly 500, the same split twice ($r1)"
else not_ok "loadgen --requests"; diag "$(cat "$TMP/n1.out" "$TMP/n2.out")"; fi
exit_code "loadgen: a bad --mix is a usage error (2)" 2 "$EX/loadgen" --port "$PORT" --mix cpu:5

# stopped under load: loadgen sees errors and exits 1; the server exits 0
"$EX/loadgen" --port "$PORT" --connections 4 --duration 3 >"$TMP/ld.out" 2>"$TMP/ld.err" &
lg=$!
sleep 1
stop "$SERVER_PID" 5
wait "$SERVER_PID"
src=$?
if [ "$src" = 0 ] && grep -q '^demo-server: stopped after [0-9]* requests' "$TMP/plain.out"; then ok "SIGINT under load: the server exits 0 within 5 s"
else not_ok "SIGINT under load: exit $src"; diag "$(cat "$TMP/plain.out" "$TMP/plain.err")"; fi
SERVER_PID=
if [ "$(wc -l <"$TMP/plain.out")" = 2 ] && [ ! -s "$TMP/plain.err" ]; then ok "the server printed two lines in all, none per request"
else not_ok "the server's output"; diag "$(head -5 "$TMP/plain.out" "$TMP/plain.err")"; fi
wait $lg
rc=$?
if [ $rc = 1 ] && grep -Eq ' [1-9][0-9]* errors$' "$TMP/ld.out" && grep -q 'the first:' "$TMP/ld.err"; then ok "loadgen: errors once the server is gone, exit 1"
else not_ok "loadgen on a stopped server: exit $rc"; diag "$(cat "$TMP/ld.out" "$TMP/ld.err")"; fi

# loadgen waits for a server that is not up yet
port=$PORT
"$EX/loadgen" --port "$port" --requests 20 >"$TMP/early.out" 2>&1 &
lg=$!
sleep 1
start_server late "$EX/demo-server" --port "$port"
wait $lg
rc=$?
if [ $rc = 0 ] && grep -q '^loadgen: 20 requests in .* 0 errors$' "$TMP/early.out"; then ok "loadgen started 1 s before the server waits for it"
else not_ok "loadgen before the server: exit $rc"; diag "$(cat "$TMP/early.out" "$TMP/late.err")"; fi
stop "$SERVER_PID" 5
SERVER_PID=

# ---- under kiln heap: the leaks are exactly the /report blocks
if [ ! -f "$(dirname "$KILN")/libkiln-heap.so" ]; then
	skip "libkiln-heap.so not built next to $KILN"; skip "kiln heap"; skip "kiln heap"
	done_testing; exit
fi
start_server heap "$KILN" heap -q --leak-check=summary -o "$TMP/t.trace" -- "$EX/demo-server" --port 0
kiln_pid=$SERVER_PID
server_pid=$(cat "/proc/$kiln_pid/task/$kiln_pid/children" 2>/dev/null || pgrep -P "$kiln_pid")
server_pid=${server_pid%% *}
"$EX/loadgen" --port "$PORT" --connections 4 --requests 600 >"$TMP/hl.out" 2>&1
rc=$?
R=$(sed -n 's/^loadgen: routes: .* report \([0-9][0-9]*\)$/\1/p' "$TMP/hl.out")
if [ $rc = 0 ] && [ "${R:-0}" -gt 0 ]; then ok "under kiln heap: loadgen made 600 requests, $R of them /report"
else not_ok "loadgen under kiln heap: exit $rc"; diag "$(cat "$TMP/hl.out" "$TMP/heap.err")"; fi
if [ -n "$server_pid" ] && stop "$server_pid" 10 && wait "$kiln_pid"; then ok "kiln heap -- demo-server: SIGINT to the server, both exit 0"
else not_ok "kiln heap run did not end cleanly"; diag "$(tail -5 "$TMP/heap.err")"; fi
SERVER_PID=
want="definitely lost: $(commas $((REPORT_LEAK_BYTES * ${R:-0}))) bytes in $(commas "${R:-0}") blocks"
if grep -q "^   $want\$" "$TMP/heap.err"; then ok "leak summary: $want"
else not_ok "leak summary, want '$want'"; diag "$(cat "$TMP/heap.err")"; fi

done_testing
