#!/usr/bin/env bash
# Load test of `veeduria serve --http` from a second process on loopback (wrk): requests/s and
# latency percentiles of a query route and of command submission. Prints wrk's reports; not a
# test (no timing is asserted). Figures: docs/benchmarks.md, "HTTP service".
# Usage: tests/bench/serve_load.sh [build/veeduria] [seconds]   (run from the repository root)
set -euo pipefail
v=${1:-build/veeduria}
secs=${2:-10}
shared="${VEEDURIA_SHARED:-../shared}"
command -v wrk >/dev/null || { echo "wrk is missing (ops/install-deps installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
stop() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap 'stop; rm -rf "$tmp"' EXIT
start() {  # start DATA: serve on an ephemeral port; sets pid and port
  local fifo
  fifo=$tmp/serve.$RANDOM.fifo
  mkfifo "$fifo"
  "$v" --data "$1" serve --http 127.0.0.1:0 --maintenance-every 60 >"$fifo" 2>"$tmp/serve.err" &
  pid=$!
  exec 3<"$fifo"  # kept open: serve never writes into a closed pipe
  read -r first <&3
  port=${first##*:}; port=${port%% *}
}

# 1. A query route on the demo ledger (116 municipalities of Cundinamarca, 47,712 events): the
#    audit trail of one goal of one municipality, as a department reviewer would read it.
q=$tmp/demo
"$v" --data "$q" init --clock simulated --admin admin@dnp.gov.co --at 2023-01-02T08:00:00-05:00 >/dev/null
"$v" gen --scale demo --seed 2023 --shared-data "$shared/data" --out "$tmp/2023.jsonl" 2>/dev/null
"$v" --data "$q" submit "$tmp/2023.jsonl" >/dev/null 2>&1
token=$("$v" --data "$q" token add --user admin@dnp.gov.co 2>/dev/null)
start "$q"
path="/v1/audit?entity=25019&object=IP-1"
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path" | jq -c '{title, rows: (.rows|length)}'
echo "== GET $path (wrk -t2 -c8 -d${secs}s --latency)"
wrk -t2 -c8 -d"${secs}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path"
stop

# 2. Command submission on a system-clock ledger: one register_entity per POST, each its own
#    group commit with fsync, then the projections catch up before the answer (read-your-writes).
w=$tmp/writes
"$v" --data "$w" init --clock system --admin admin@dnp.gov.co >/dev/null
token=$("$v" --data "$w" token add --user admin@dnp.gov.co 2>/dev/null)
start "$w"
for d in $(seq 10 99); do
  printf '{"command":"register_entity","command_id":"dept-%s","entity":"%s","name":"D%s","kind":"departamento","department":"%s"}\n' "$d" "$d" "$d" "$d"
done | curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/x-ndjson" --data-binary @- \
  "http://127.0.0.1:$port/v1/commands" |
  jq -s -c 'group_by(.status) | map({(.[0].status): length}) | add'
cat >"$tmp/post.lua" <<'LUA'
-- Each request registers a new municipality: thread i uses DANE codes from 10000 + 20000*i.
local threads = {}
function setup(thread) thread:set("id", #threads); table.insert(threads, thread) end
function init(args) n = 10000 + 20000 * id end
function request()
  n = n + 1
  local code = tostring(n)
  local body = '{"command":"register_entity","command_id":"load-' .. code .. '","entity":"' .. code ..
               '","name":"M' .. code .. '","kind":"municipio","department":"' .. code:sub(1, 2) .. '"}\n'
  return wrk.format("POST", "/v1/commands", {["Authorization"] = "Bearer " .. token,
                                             ["Content-Type"] = "application/x-ndjson"}, body)
end
LUA
sed -i "1i token = \"$token\"" "$tmp/post.lua"
echo "== POST /v1/commands, one register_entity per request (wrk -t2 -c8 -d${secs}s --latency)"
wrk -t2 -c8 -d"${secs}s" --latency -s "$tmp/post.lua" "http://127.0.0.1:$port"
echo "outcomes of the load's commands:"
curl -sf "http://127.0.0.1:$port/metrics" | grep -E '^veeduria_commands_total'
curl -sf "http://127.0.0.1:$port/metrics" | grep -E '^veeduria_append_seconds_(sum|count)'
