#!/usr/bin/env bash
# t1230: the agent under stress and in awkward hosts: tokens off loopback
# (401 without, constant-time check), DNS-rebinding Host headers (403),
# hostile clients (garbage, huge headers, slowloris, too many connections,
# huge bodies) that never hang or crash the host, fork (the child runs
# without the agent, or with its own with KILN_AGENT_CHILDREN=1), a host
# that closes every descriptor (warn once, stop cleanly), exit during a CPU
# profile, and the linked (-lkiln) variant with kiln_agent_start.
. "$(dirname "$0")/lib.sh"

HL=$WORKLOADS/agent-host-linked
CURL_TIMEOUT=10
. "$(dirname "$0")/agent-lib.sh"
plan 20

TOKEN=kiln-test-token-0123456789
# finish PID NAME: SIGTERM, then ok when it exits 0 with its summary line
finish() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
	local rc=$?
	if [ "$rc" = 0 ] && tail -1 "$TMP/$2.out" | grep -q '^agent-host: done'; then return 0; fi
	diag "exit $rc" "$(tail -3 "$TMP/$2.out" "$TMP/$2.err")"
	return 1
}

# ---- off loopback: a token or nothing
start_host notoken KILN_AGENT=0.0.0.0:0 -- --seconds 1
wait "$PID"
rc=$?
if [ "$rc" = 0 ] && [ "$PORT" = 0 ] && [ "$(grep -c '^kiln agent: .*KILN_AGENT_TOKEN' "$TMP/notoken.err")" = 1 ] &&
	[ "$(wc -l <"$TMP/notoken.err")" = 1 ]; then ok "0.0.0.0 without a token: the agent stays off, one warning, the host runs"
else not_ok "0.0.0.0 without token (exit $rc)"; diag "$(cat "$TMP/notoken.err")"; fi
start_host short KILN_AGENT=0.0.0.0:0 KILN_AGENT_TOKEN=short -- --seconds 0.5
wait "$PID"
if [ "$PORT" = 0 ] && grep -q '^kiln agent:' "$TMP/short.err"; then ok "a token under 16 characters is refused"
else not_ok "short token"; fi

start_host token KILN_AGENT=0.0.0.0:0 KILN_AGENT_TOKEN=$TOKEN -- --seconds 30
c0=$(code "$URL/metrics") c1=$(code -H "Authorization: Bearer wrong-token-0123456789" "$URL/metrics")
c2=$(code -H "Authorization: Bearer ${TOKEN}x" "$URL/metrics") c3=$(code -H "Authorization: Bearer $TOKEN" "$URL/metrics")
auth=$(curl -s -D - -o /dev/null "$URL/metrics" | tr -d '\r' | grep -i '^www-authenticate:')
if [ "$c0" = 401 ] && [ "$c1" = 401 ] && [ "$c2" = 401 ] && [ "$c3" = 200 ] && [ -n "$auth" ]; then
	ok "0.0.0.0 with KILN_AGENT_TOKEN: 401 without or with a wrong token, 200 with it"
else not_ok "token: $c0 $c1 $c2 $c3 '$auth'"; fi
if [ "$(code -H "Authorization: Bearer $TOKEN" "$URL/debug/pprof/heap?debug=1")" = 400 ] &&
	[ "$(code -X POST -d 0x1 "$URL/debug/pprof/symbol")" = 401 ]; then ok "the token guards every path"
else not_ok "token on every path"; fi
if finish "$PID" token; then ok "the token host ends normally"; else not_ok "token host"; fi

# ---- the hostile clients
start_host main -- --seconds 60
cat >"$TMP/hostile.py" <<'EOF'
import socket, sys, threading, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s
def answer(s, limit=5.0):
    """the status line, 'closed' when the server closed, 'timeout' when it hung"""
    s.settimeout(limit)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return "timeout"
    except OSError:
        return "closed"
    return data.split(b"\r\n")[0].decode("latin-1") if data else "closed"
def send(s, data):
    try:
        s.sendall(data)
    except OSError:
        pass
def get_metrics():
    s = conn()
    send(s, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    r = answer(s)
    s.close()
    return r
out = {}
s = conn(); send(s, b"\xff\xfe\x16\x03\x01 GARBAGE \x7f\r\n\r\n"); out["garbage"] = answer(s); s.close()
s = conn(); send(s, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 4); out["tls"] = answer(s); s.close()
s = conn(); send(s, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 300000 + b"\r\n\r\n"); out["hugeheader"] = answer(s); s.close()
s = conn(); send(s, b"GET /" + b"x" * 200000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); out["hugeurl"] = answer(s); s.close()
s = conn(); send(s, b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3000000\r\n\r\n" + b"0x1+" * 1000); out["hugebody"] = answer(s); s.close()
# an endless chunked body: answered (413) while it is still coming
s = conn(); send(s, b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
def endless(sock):
    t = time.time()
    while time.time() - t < 20:
        try:
            sock.sendall(b"10000\r\n" + b"0x1+" * 16384 + b"\r\n")
        except OSError:
            return
threading.Thread(target=endless, args=(s,), daemon=True).start()
out["hugechunked"] = answer(s, 10); s.close()
s = conn(); send(s, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n"); out["badlength"] = answer(s); s.close()
s = conn(); send(s, b"GET /metrics HTTP/9.9\r\n\r\n"); out["badversion"] = answer(s); s.close()
# slowloris: ten clients dribbling headers; the agent keeps serving others
slow = []
for i in range(10):
    c = conn(); send(c, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"); slow.append(c)
t0 = time.time(); ok = 0
for i in range(3):
    for c in slow:
        send(c, b"X-a: b\r\n")
    if get_metrics().startswith("HTTP/1.1 200"):
        ok += 1
    time.sleep(0.5)
out["slowloris"] = "served %d/3 in %.1fs" % (ok, time.time() - t0)
for c in slow:
    c.close()
# more idle connections than the limit, then all closed: serving again
idle = []
for i in range(48):
    try:
        idle.append(conn())
    except OSError:
        break
for c in idle:
    c.close()
# (libmicrohttpd frees the slots of finished connections when the next
# one arrives: the first attempt may be turned away)
for i in range(5):
    time.sleep(0.3)
    out["afterflood"] = get_metrics()
    if out["afterflood"].startswith("HTTP/1.1 200"):
        break
for k in sorted(out):
    print(k, out[k])
EOF
timeout 60 python3 "$TMP/hostile.py" "$PORT" >"$TMP/hostile.out" 2>&1
res() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$TMP/hostile.out"; }
refused() { case "$1" in "HTTP/1.1 4"* | "HTTP/1.1 505"* | closed) return 0 ;; *) return 1 ;; esac; }
if refused "$(res garbage)" && refused "$(res tls)" && refused "$(res badlength)" && refused "$(res badversion)"; then
	ok "garbage, a TLS hello, a negative length, a bad version: 4xx or closed ($(res garbage))"
else not_ok "garbage"; diag "$(cat "$TMP/hostile.out")"; fi
if refused "$(res hugeheader)" && refused "$(res hugeurl)"; then ok "a 300 KB header and a 200 KB URL: refused ($(res hugeheader); $(res hugeurl))"
else not_ok "huge header/url"; diag "$(cat "$TMP/hostile.out")"; fi
case "$(res hugebody) / $(res hugechunked)" in
"HTTP/1.1 413"*" / HTTP/1.1 413"* | "HTTP/1.1 413"*" / closed") ok "POST bodies over 1 MiB: 413; an endless one is cut ($(res hugechunked))" ;;
*) not_ok "huge body: $(res hugebody) / $(res hugechunked)" ;;
esac
case "$(res slowloris)" in
"served 3/3"*) ok "slowloris clients do not stop others from being served ($(res slowloris))" ;;
*) not_ok "slowloris: $(res slowloris)" ;;
esac
case "$(res afterflood)" in
"HTTP/1.1 200"*) ok "after more connections than the limit: serving again" ;;
*) not_ok "after the flood: $(res afterflood)"; diag "$(cat "$TMP/hostile.out")" ;;
esac
if [ "$(code -H 'Host: attacker.example' "$URL/metrics")" = 403 ] && [ "$(code -H "Host: localhost:$PORT" "$URL/metrics")" = 200 ]; then
	ok "without a token, a Host that is not an address or localhost: 403 (DNS rebinding)"
else not_ok "Host check"; fi
if kill -0 "$PID" 2>/dev/null && [ "$(code "$URL/metrics")" = 200 ] && finish "$PID" main && [ ! -s "$TMP/main.err" ]; then
	ok "the host survived all of it and ends normally"
else not_ok "host after hostile clients"; diag "$(cat "$TMP/main.err")"; fi

# ---- fork
start_host fork -- --seconds 3.5 --fork-child 0.5
parent=$PID
sleep 1.2 # the child works from 0.5 s to 2.5 s
mid=$(code "$URL/metrics")
others=$(find "$TMP" -name 'fork.*.port' ! -name "fork.$parent.port" | wc -l)
wait "$parent"
rc=$?
if [ "$mid" = 200 ] && [ "$others" = 0 ] && [ "$rc" = 0 ] && grep -q 'child 7,' "$TMP/fork.out" && [ ! -s "$TMP/fork.err" ]; then
	ok "fork: the parent keeps serving, the child runs without the agent and exits 7"
else not_ok "fork: mid $mid, $others child agents, exit $rc"; diag "$(cat "$TMP/fork.out" "$TMP/fork.err")"; fi

start_host forkc KILN_AGENT_CHILDREN=1 -- --seconds 3.5 --fork-child 0.5
parent=$PID
pport=$PORT
child_port() { f=$(find "$TMP" -name 'forkc.*.port' ! -name "forkc.$parent.port" | head -1); [ -n "$f" ] && [ -s "$f" ]; }
cc=none
if poll 3 child_port; then
	cport=$(cat "$f")
	cc=$(code "http://127.0.0.1:$cport/metrics/memory")
fi
pc=$(code "http://127.0.0.1:$pport/metrics")
wait "$parent"
rc=$?
if [ "$cc" = 200 ] && [ "$pc" = 200 ] && [ "$cport" != "$pport" ] && [ "$rc" = 0 ] && grep -q 'child 7,' "$TMP/forkc.out"; then
	ok "KILN_AGENT_CHILDREN=1: the fork child serves on a port of its own ($cport), the parent on $pport"
else not_ok "children: child $cc parent $pc exit $rc"; diag "$(cat "$TMP/forkc.err")"; fi

# ---- a daemon closing every descriptor, then opening its own
start_host closer -- --seconds 4 --close-fds-at 1
before=$(code "$URL/metrics")
sleep 2.5 # closed at 1 s, noticed within a second
after=$(code "$URL/metrics")
wait "$PID"
rc=$?
if [ "$before" = 200 ] && [ "$after" = 000 ] && [ "$rc" = 0 ] && grep -q 'fds closed' "$TMP/closer.out"; then
	ok "the host closes all descriptors: the agent stops serving, the host goes on"
else not_ok "close-all: before $before after $after exit $rc"; diag "$(cat "$TMP/closer.err")"; fi
if [ "$(grep -c "kiln agent: the host closed the agent's listen socket" "$TMP/closer.err")" = 1 ] &&
	[ "$(wc -l <"$TMP/closer.err")" = 1 ]; then ok "... and says so once on stderr"
else not_ok "close-all warning"; diag "$(cat "$TMP/closer.err")"; fi

# ---- exit while a CPU profile is in progress
start_host exiting -- --seconds 2
t0=$(date +%s.%N)
code "$URL/debug/pprof/profile?seconds=30" >"$TMP/exiting.code" &
cpid=$!
wait "$PID"
rc=$?
t1=$(date +%s.%N)
wait "$cpid"
if [ "$rc" = 0 ] && awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 5) }' && grep -q 'done' "$TMP/exiting.out"; then
	ok "the host exits on time during a 30 s CPU profile (exit 0; the client got $(cat "$TMP/exiting.code"))"
else not_ok "exit during profile: rc $rc"; diag "$(cat "$TMP/exiting.err")"; fi

# ---- linked with -lkiln, started by kiln_agent_start
if [ -x "$HL" ]; then
	rm -f "$TMP/linked.port"
	KILN_AGENT_PORT_FILE=$TMP/linked.port "$HL" --seconds 30 --start 127.0.0.1:0 >"$TMP/linked.out" 2>"$TMP/linked.err" &
	lp=$!
	for _ in $(seq 50); do [ -s "$TMP/linked.port" ] && break; sleep 0.1; done
	URL=http://127.0.0.1:$(cat "$TMP/linked.port" 2>/dev/null || echo 0)
	has_cache() { curl -s --max-time 5 "$URL/metrics" | grep -q '^process_memory_heap_component_bytes{component="cache"} [1-9]'; }
	if poll 10 has_cache; then ok "linked (-lkiln) and started with kiln_agent_start: serves, tags count"
	else not_ok "linked variant"; diag "$(cat "$TMP/linked.err")"; fi
	if finish "$lp" linked && [ ! -s "$TMP/linked.err" ]; then ok "the linked host ends normally"; else not_ok "linked host end"; fi
	KILN_AGENT=127.0.0.1:0 "$HL" --seconds 0.2 --start 127.0.0.1:0 >"$TMP/twice.out" 2>"$TMP/twice.err"
	if grep -q 'kiln_agent_start: Operation already in progress' "$TMP/twice.err"; then ok "a second kiln_agent_start: -EALREADY"
	else not_ok "second start"; diag "$(cat "$TMP/twice.err")"; fi
else
	for i in 1 2 3; do skip "agent-host-linked not built"; done
fi
done_testing
