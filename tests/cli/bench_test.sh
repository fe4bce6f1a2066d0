#!/usr/bin/env bash
# `veeduria bench --quick --scale tiny --json`: the shape of the JSON object (never its timings).
# With a third argument "postgres", the PostgreSQL baseline too (skipped, exit 77, when
# PostgreSQL 15 is not installed).
#   tests/cli/bench_test.sh build/veeduria SOURCE_DIR [postgres]
set -euo pipefail
v=$1 src=$2 mode=${3:-}
args=(--quick --scale tiny --json --shared-data "$src/../shared/data" --campaigns "$src/ops/campaigns/2023.jsonl"
  --sql "$src/ops/bench")
if [[ $mode == postgres ]]; then
  [[ -x /usr/lib/postgresql/15/bin/initdb ]] || { echo "PostgreSQL 15 not installed: skipped"; exit 77; }
  args+=(--postgres --workload append --workload rebuild)
fi
out=$("$v" bench "${args[@]}")
echo "$out" | jq -e . >/dev/null
check() { echo "$out" | jq -e "$1" >/dev/null || { echo "FAILED: $1"; echo "$out" | jq .; exit 1; }; }
check '.machine | (.cpu | type == "string") and (.cores >= 1) and (.ram_gib > 0) and (.kernel | type == "string")'
check '.dataset.scale == "tiny" and .dataset.commands > 1000 and .dataset.events > .dataset.commands * 0.9'
# The generator's refusals on purpose, and nothing else: the workload is the rules' happy path.
check '.dataset.refused_by_reason == {"manual_activation_forbidden": 3, "not_pesos": 3} and .dataset.invalid == 0'
check '.workloads | type == "array" and all(.[]; (.name | type == "string") and has("events_per_s") and has("p50_ms") and has("p99_ms"))'
check '.ratios | has("rebuild_vs_rocksdb") and has("append_vs_postgres") and has("rebuild_vs_postgres")'
check '[.workloads[] | select(.name == "append" or .name == "rebuild") | .events_per_s > 0] == [true, true]'
if [[ $mode == postgres ]]; then
  check '(.ratios.append_vs_postgres > 0) and (.ratios.rebuild_vs_postgres > 0)'
  check '.postgres.rows.events == .dataset.events and .postgres.rows.progress > 0 and .postgres.rows.audit > 0'
  check '[.workloads[].name] == ["gen", "append", "rebuild", "postgres_append", "postgres_rebuild"]'
else
  check '[.workloads[].name] == ["gen", "append", "rebuild", "asof", "audit", "verify", "rocksdb_puts", "scan_decode", "sha256"]'
  check '[.workloads[] | select(.name == "asof" or .name == "audit") | .p99_ms >= .p50_ms] == [true, true]'
  check '.ratios.rebuild_vs_rocksdb > 0 and .ratios.append_vs_postgres == null'
fi
echo "bench JSON shape: ok"
