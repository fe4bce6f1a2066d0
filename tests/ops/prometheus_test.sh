#!/usr/bin/env bash
# A real Prometheus (Debian's `prometheus`, started by hand on 127.0.0.1 with a temporary tsdb)
# scrapes `veeduria serve` and the test reads one of its metrics back through Prometheus's HTTP
# API (/api/v1/query). Exit 77 (ctest: skipped) only when the prometheus binary is absent.
# Usage: prometheus_test.sh path/to/veeduria
set -uo pipefail
v=${1:?usage: prometheus_test.sh VEEDURIA}
command -v prometheus >/dev/null || { echo "SKIP: no prometheus binary (ops/install-deps installs it)"; exit 77; }
tmp=$(mktemp -d)
serve_pid="" prom_pid=""
cleanup() {
  [[ -n $prom_pid ]] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; [[ -f $tmp/prom.log ]] && tail -20 "$tmp/prom.log" >&2; exit 1; }

"$v" --data "$tmp/d" init --clock system --admin admin@dnp.gov.co >/dev/null 2>&1 || fail "init"
mkfifo "$tmp/out"
"$v" --data "$tmp/d" serve --http 127.0.0.1:0 >"$tmp/out" 2>"$tmp/serve.err" &
serve_pid=$!
read -r first <"$tmp/out" || fail "serve did not start: $(cat "$tmp/serve.err")"
port=${first##*:}; port=${port%% *}
[[ $port =~ ^[0-9]+$ ]] || fail "no port in '$first'"
exec 3<"$tmp/out"  # keep the pipe open so serve never writes into a closed one

# A free port for Prometheus: bind an ephemeral one, release it, and let Prometheus take it.
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') ||
  fail "no free port"
cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $(cd "$(dirname "$0")/../.." && pwd)/ops/prometheus/alerts.yml
scrape_configs:
  - job_name: veeduria
    static_configs:
      - targets: ["127.0.0.1:$port"]
YML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prom.log" 2>&1 &
prom_pid=$!

# Poll Prometheus's API (bounded: 60 s) until it has scraped the service's metric.
query="veeduria_verification_ok%7Bjob%3D%22veeduria%22%7D"
for _ in $(seq 1 120); do
  out=$(curl -sf "http://127.0.0.1:$prom_port/api/v1/query?query=$query" 2>/dev/null) &&
    [[ $(jq -r '.data.result | length' <<<"$out") -ge 1 ]] && break
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
  sleep 0.5
done
echo "$out"
[[ $(jq -r '.status' <<<"$out") == success ]] || fail "query status"
[[ $(jq -r '.data.result[0].metric.instance' <<<"$out") == "127.0.0.1:$port" ]] || fail "instance label"
[[ $(jq -r '.data.result[0].value[1]' <<<"$out") == 1 ]] || fail "veeduria_verification_ok is not 1"
up=$(curl -sf "http://127.0.0.1:$prom_port/api/v1/query?query=up%7Bjob%3D%22veeduria%22%7D" | jq -r '.data.result[0].value[1]')
[[ $up == 1 ]] || fail "target not up"
echo "prometheus_test: Prometheus on 127.0.0.1:$prom_port scraped veeduria on 127.0.0.1:$port"
