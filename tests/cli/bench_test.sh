#!/usr/bin/env bash
# `veeduria bench --quick --scale tiny --json`: the shape of the JSON object (never its timings).
# With a third argument "postgres", the PostgreSQL baseline too (skipped, exit 77, when
# PostgreSQL 15 is not installed). With "reuse", a second run with --reuse measures the ledger the
# first one left in --dir, without generating or appending.
#   tests/cli/bench_test.sh build/veeduria SOURCE_DIR [postgres|reuse]
set -euo pipefail
v=$1 src=$2 mode=${3:-}
args=(--quick --scale tiny --json --shared-data "$src/../shared/data" --campaigns "$src/ops/campaigns/2023.jsonl"
  --sql "$src/ops/bench")
if [[ $mode == postgres ]]; then
  [[ -x /usr/lib/postgresql/15/bin/initdb ]] || { echo "PostgreSQL 15 not installed: skipped"; exit 77; }
  args+=(--postgres --workload append --workload rebuild)
fi
if [[ $mode == reuse || $mode == postgres ]]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  args+=(--dir "$dir")
else  # a temporary directory of bench's own, in this one
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi
out=$(TMPDIR=${tmp:-${TMPDIR:-/tmp}} "$v" bench "${args[@]}")
if [[ -n ${tmp:-} && -n $(ls -A "$tmp") ]]; then echo "FAILED: bench left $(ls -A "$tmp") behind"; exit 1; fi
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
  # The server's data directory is scratch: removed once the figures are taken.
  [[ -d $dir/pg && ! -e $dir/pg/data ]] || { echo "FAILED: $dir/pg/data left behind"; ls -la "$dir/pg"; exit 1; }
else
  check '[.workloads[].name] == ["gen", "append", "rebuild", "asof", "audit", "verify", "rocksdb_puts", "scan_decode", "sha256"]'
  check '[.workloads[] | select(.name == "asof" or .name == "audit") | .p99_ms >= .p50_ms] == [true, true]'
  # Each query's own CPU time: measured, and at most its wall time (give or take the two clocks' granularity).
  check '[.workloads[] | select(.name == "asof" or .name == "audit") | .cpu_p50_ms > 0 and .cpu_p99_ms >= .cpu_p50_ms and .cpu_p99_ms <= .p99_ms * 1.01 + 0.002] == [true, true]'
  check '[.workloads[] | select(.name == "rebuild") | .cpu_p99_ms] == [null]'
  check '.settle_s >= 0'  # the wait for RocksDB's compactions before asof and audit
  check '.ratios.rebuild_vs_rocksdb > 0 and .ratios.append_vs_postgres == null'
fi
if [[ $mode == reuse ]]; then
  first=$out
  out=$("$v" bench "${args[@]}" --reuse)
  echo "$out" | jq -e . >/dev/null
  check '[.workloads[].name] == ["rebuild", "asof", "audit", "verify", "rocksdb_puts", "scan_decode", "sha256"]'
  check ".dataset.events == $(echo "$first" | jq .dataset.events) and .dataset.commands == $(echo "$first" | jq .dataset.commands)"
  check '.ratios.rebuild_vs_rocksdb > 0 and .ratios.append_vs_rocksdb == null'
  check '[.workloads[] | select(.name == "asof" or .name == "audit") | .p99_ms >= .p50_ms] == [true, true]'
  # Misuse is refused with a reason, not measured.
  if err=$("$v" bench --quick --scale tiny --reuse 2>&1); then echo "FAILED: --reuse without --dir ran"; exit 1; fi
  [[ $err == *"--reuse needs --dir"* ]] || { echo "FAILED: $err"; exit 1; }
  if err=$("$v" bench "${args[@]}" --reuse --workload append 2>&1); then echo "FAILED: --reuse append ran"; exit 1; fi
  [[ $err == *"append workload cannot run"* ]] || { echo "FAILED: $err"; exit 1; }
  empty=$(mktemp -d)
  if err=$("$v" bench --quick --scale tiny --reuse --dir "$empty" 2>&1); then echo "FAILED: empty --reuse ran"; exit 1; fi
  rm -rf "$empty"
  [[ $err == *"cannot read"*commands.jsonl* ]] || { echo "FAILED: $err"; exit 1; }
fi
echo "bench JSON shape: ok"
