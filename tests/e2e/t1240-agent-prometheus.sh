#!/usr/bin/env bash
# t1240: the agent with a real Prometheus server: deploy/ passes promtool
# (config and alerting rules), the Grafana dashboard is valid JSON whose
# queries name metrics the agent serves, and a Prometheus started here
# (127.0.0.1, scrape interval 1 s, a temporary storage directory) scrapes
# a preloaded host: the target is up and process_memory_rss_bytes and the
# heap by component can be queried through its HTTP API.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/agent-lib.sh"
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 ||
	skip_all "prometheus is not installed (Debian package prometheus; scripts/install-deps installs it)"
plan 8

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

check "promtool check rules deploy/kiln-alerts.yml" promtool check rules "$ROOT/deploy/kiln-alerts.yml"
check "promtool check config deploy/prometheus.yml" promtool check config "$ROOT/deploy/prometheus.yml"

env LD_PRELOAD="$LIBKILN" KILN_AGENT=127.0.0.1:0 KILN_AGENT_PORT_FILE="$TMP/host.port" KILN_AGENT_LEAK_INTERVAL=1 \
	"$H" --seconds 60 >"$TMP/host.out" 2>"$TMP/host.err" &
HPID=$!
for _ in $(seq 100); do [ -s "$TMP/host.port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/host.port" 2>/dev/null || echo 0)
PPORT=$(free_port)
PROM=http://127.0.0.1:$PPORT
cleanup() { kill "$PPID_PROM" "$HPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
PPID_PROM=
trap cleanup EXIT

# the dashboard: valid JSON, and every metric its queries name is served
sleep 2 # a tick or two, for the rate and growth families
curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics" | awk '!/^#/ { sub(/[{ ].*/, ""); print }' | sort -u >"$TMP/served"
if python3 - "$ROOT/deploy/grafana-dashboard.json" "$TMP/served" >"$TMP/dash.out" 2>&1 <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
served = set(open(sys.argv[2]).read().split())
names = set()
def walk(ps):
    for p in ps:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            names.update(re.findall(r"\b(process_[a-z_]+|kiln_[a-z_]+)\b", t["expr"]))
walk(d["panels"])
assert len(d["panels"]) >= 6, "panels"
base = {re.sub(r"_(bucket|sum|count)$", "", n) for n in served}
missing = sorted(n for n in names if n not in served and n not in base)
assert not missing, "not served: %s" % missing
print("ok", len(names), "metrics")
EOF
then ok "the Grafana dashboard is valid JSON and queries served metrics ($(cat "$TMP/dash.out"))"
else not_ok "dashboard"; diag "$(cat "$TMP/dash.out")"; fi

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/deploy/kiln-alerts.yml
scrape_configs:
  - job_name: kiln
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
EOF
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$TMP/prom.log" 2>&1 &
PPID_PROM=$!

query() { curl -s --max-time 5 --get --data-urlencode "query=$1" "$PROM/api/v1/query"; }
# value QUERY: the first result's value, when there is one and it is positive
positive() {
	query "$1" | python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; assert r and float(r[0]["value"][1]) > 0' 2>/dev/null
}
if poll 30 positive process_memory_rss_bytes; then ok "Prometheus scraped the agent: process_memory_rss_bytes > 0"
else not_ok "no process_memory_rss_bytes in Prometheus"; diag "$(tail -5 "$TMP/prom.log")" "$(curl -s "$PROM/api/v1/targets" | head -c 600)"; fi
if positive 'up{job="kiln"}'; then ok "the target is up"; else not_ok "target up"; fi
health=$(curl -s "$PROM/api/v1/targets" | python3 -c 'import json, sys; t = json.load(sys.stdin)["data"]["activeTargets"][0]; print(t["health"], repr(t["lastError"]))' 2>&1)
if [ "$health" = "up ''" ]; then ok "no scrape error"; else not_ok "target health: $health"; fi
if poll 10 positive 'process_memory_heap_component_bytes{component="cache"}'; then ok "heap by component queried from Prometheus"
else not_ok "component metric"; fi
nrules=$(curl -s "$PROM/api/v1/rules" | python3 -c 'import json, sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))' 2>&1)
if [ "$nrules" = 5 ]; then ok "Prometheus loaded the 5 alerting rules"; else not_ok "rules: $nrules"; fi
done_testing
