# agent-lib.sh: helpers shared by the agent's end-to-end tests (t12NN),
# sourced after lib.sh: the preloaded host on a free port, HTTP status and
# header helpers, and polling. Sets LIBKILN and H (the agent-host workload).
LIBKILN=${LIBKILN:-$ROOT/build/libkiln.so}
H=$WORKLOADS/agent-host
[ -r "$LIBKILN" ] || skip_all "libkiln.so not built ($LIBKILN)"
[ -x "$H" ] || skip_all "workload $H not built"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"

# start_host NAME [VAR=VALUE...] -- ARGS...: the host, preloaded, on a free
# port (port 0, told through KILN_AGENT_PORT_FILE, NAME.PID.port); sets
# PID, PORT (0 when it never told one) and URL.
start_host() {
	local name=$1 envs=()
	shift
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	env LD_PRELOAD="$LIBKILN" KILN_AGENT=127.0.0.1:0 KILN_AGENT_PORT_FILE="$TMP/$name.%p.port" "${envs[@]}" \
		"$H" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	PID=$!
	for _ in $(seq 100); do [ -s "$TMP/$name.$PID.port" ] && break; kill -0 $PID 2>/dev/null || break; sleep 0.1; done
	PORT=$(cat "$TMP/$name.$PID.port" 2>/dev/null || echo 0)
	URL=http://127.0.0.1:$PORT
}
# code URL [CURL ARGS]: the HTTP status (000 when none came)
code() { curl -s -o /dev/null --max-time "${CURL_TIMEOUT:-20}" -w '%{http_code}' "$@"; }
# fetch URL: the body, headers kept in $TMP/hdr for hdr NAME
fetch() { curl -s --max-time "${CURL_TIMEOUT:-20}" -D "$TMP/hdr" "$@"; }
hdr() { tr -d '\r' <"$TMP/hdr" | awk -v k="$1" 'tolower($0) ~ "^" tolower(k) ":" { sub(/^[^:]*: */, ""); print; exit }'; }
# poll SECONDS COMMAND...: retries the command every 0.5 s until it succeeds
poll() { local n=$(($1 * 2)); shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.5; done; return 1; }
