#!/usr/bin/env bash
# End-to-end checks of the veeduria binary: init, submit (BOM, CRLF, blank, invalid and
# truncated lines; --json; a file of many chunks), duplicates, log, verify, rebuild.
# Usage: e2e_test.sh path/to/veeduria
set -uo pipefail
v=${1:?usage: e2e_test.sh VEEDURIA}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {  # check NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name" >&2; fi
}

d=$tmp/ledger
check "init" bash -c "'$v' --data '$d' init --clock simulated --admin admin@dnp.gov.co --at 2023-01-02T08:00:00-05:00 >/dev/null"
check "second init refused" bash -c "! '$v' --data '$d' init --clock simulated --admin x@y.co 2>/dev/null"
check "no ledger named" bash -c "'$v' --data '$tmp/none' log 2>&1 | grep -q 'no ledger in'"

printf '\xEF\xBB\xBF' >"$tmp/in.jsonl"
printf '%s\r\n' '{"command":"register_entity","command_id":"e25","actor":"admin@dnp.gov.co","at":"2023-01-03T08:00:00-05:00","entity":"25","name":"CUNDINAMARCA","kind":"departamento","department":"25"}' >>"$tmp/in.jsonl"
printf '\r\n   \n' >>"$tmp/in.jsonl"
printf '%s\n' '{"command":"register_entity","command_id":"e25799","actor":"admin@dnp.gov.co","at":"2023-01-03T08:01:00-05:00","entity":"25799","name":"TENJO","kind":"municipio","department":25}' >>"$tmp/in.jsonl"
printf '%s\n' '{"command":"register_entity","command_id":"bad","actor":"someone@tenjo.gov.co","at":"2023-01-03T08:02:00-05:00","entity":"25799","name":"TENJO","kind":"municipio","department":"25"}' >>"$tmp/in.jsonl"
printf '%s' '{"command":"register_entity","command_id":"trunc' >>"$tmp/in.jsonl"

"$v" --data "$d" submit --json "$tmp/in.jsonl" >"$tmp/out.jsonl" 2>"$tmp/err"
check "submit exits 0 when every line was read" test $? -eq 0
check "one result per line" test "$(wc -l <"$tmp/out.jsonl")" -eq 4
check "results in DESIGN's shape" bash -c "head -1 '$tmp/out.jsonl' | grep -q '^{\"line\":1,\"command_id\":\"e25\",\"status\":\"accepted\",\"message\":'"
check "a mistyped field is invalid, named" bash -c "jq -s -e 'any(.[]; .line==4 and .status==\"invalid\" and .reason==\"bad_field\" and (.message|test(\"department\")) and .events==[])' '$tmp/out.jsonl' >/dev/null"
check "an unauthorized command is rejected and recorded" bash -c "jq -s -e 'any(.[]; .line==5 and .status==\"rejected\" and .reason==\"not_authorized\" and (.events|length)==1)' '$tmp/out.jsonl' >/dev/null"
check "a truncated last line is invalid" bash -c "jq -s -e 'any(.[]; .line==6 and .status==\"invalid\" and .reason==\"bad_json\")' '$tmp/out.jsonl' >/dev/null"
check "summary on stderr" grep -q "4 lines: 1 accepted, 1 rejected, 0 duplicate, 2 invalid" "$tmp/err"

"$v" --data "$d" submit --json "$tmp/in.jsonl" >"$tmp/again.jsonl" 2>/dev/null
check "a resubmitted file is all duplicates with the original events" bash -c \
  "jq -s -e 'any(.[]; .line==1 and .status==\"duplicate\")' '$tmp/again.jsonl' >/dev/null && \
   test \"\$(jq -c 'select(.line==1) | .events' '$tmp/again.jsonl')\" = \"\$(jq -c 'select(.line==1) | .events' '$tmp/out.jsonl')\""

"$v" --data "$d" log --json >"$tmp/log.jsonl"
check "log --json: canonical JSON with type, envelope and payload" bash -c \
  "test \$(wc -l <'$tmp/log.jsonl') -eq 3 && jq -e -s 'map(.type) == [\"LedgerInitialized\",\"EntityRegistered\",\"CommandRejected\"]' '$tmp/log.jsonl' >/dev/null"
check "log --entity" bash -c "test \$('$v' --data '$d' log --entity directory | wc -l) -eq 3"
check "verify passes" bash -c "'$v' --data '$d' verify | grep -q 'verify: OK: 3 events'"
check "rebuilt decider state is identical" bash -c "'$v' --data '$d' rebuild --projection decider | grep -q identical"

# A file of many chunks (1,024 commands each, appended while the next is parsed and decided),
# invalid lines among them: one result per line, in file order, each invalid line named, and the
# log identical to the same commands submitted one chunk per call.
src=$(cd "$(dirname "$0")/../.." && pwd)
"$v" gen --scale demo --seed 11 --shared-data "$src/../shared/data" --campaigns "$src/ops/campaigns/2023.jsonl" \
  --out "$tmp/demo.jsonl" >/dev/null 2>&1
awk 'NR % 2500 == 7 { print "{not json" } { print }' "$tmp/demo.jsonl" >"$tmp/mixed.jsonl"
m=$tmp/many
"$v" --data "$m" init --clock simulated --admin admin@dnp.gov.co --at 2023-01-02T08:00:00-05:00 >/dev/null
"$v" --data "$m" submit --json "$tmp/mixed.jsonl" >"$tmp/many.jsonl" 2>/dev/null
check "many chunks: one result per line, in file order" bash -c \
  "test \$(wc -l <'$tmp/many.jsonl') -eq \$(wc -l <'$tmp/mixed.jsonl') && jq -s -e '[.[].line] == [range(1; length + 1)]' '$tmp/many.jsonl' >/dev/null"
check "many chunks: the invalid lines, and only they" bash -c \
  "test \"\$(jq -c 'select(.status==\"invalid\") | .line' '$tmp/many.jsonl' | tr '\n' ' ')\" = \"\$(grep -n '^{not json' '$tmp/mixed.jsonl' | cut -d: -f1 | tr '\n' ' ')\""
# The same commands without the invalid lines, pipelined and one chunk per call (the same chunks,
# so periodic checkpoints fall at the same places): the same log but for the checkpoints' keys.
"$v" --data "$m.2" init --clock simulated --admin admin@dnp.gov.co --at 2023-01-02T08:00:00-05:00 >/dev/null
"$v" --data "$m.2" submit "$tmp/demo.jsonl" >/dev/null 2>&1
one=$tmp/one
"$v" --data "$one" init --clock simulated --admin admin@dnp.gov.co --at 2023-01-02T08:00:00-05:00 >/dev/null
split -l 1024 "$tmp/demo.jsonl" "$tmp/part."
for f in "$tmp"/part.*; do "$v" --data "$one" submit "$f" >/dev/null 2>&1; done
# (a checkpoint's id and hash, the next event's prev_hash and the later roots follow from the key)
unsigned='del(.payload.key_id, .payload.signature, .hash, .envelope.prev_hash) | if .type == "Checkpoint" then del(.envelope.event_id, .payload.root_hash) else . end'
check "many chunks: the same log as one chunk per call" bash -c \
  "diff <('$v' --data '$m.2' log --json | jq -c '$unsigned') <('$v' --data '$one' log --json | jq -c '$unsigned') >/dev/null"
# A file that cannot be read: refused, the file named, nothing appended.
"$v" --data "$one" log --json >"$tmp/before-missing.jsonl"
check "submit of a missing file names it and appends nothing" bash -c \
  "! '$v' --data '$one' submit '$tmp/no-such.jsonl' 2>'$tmp/missing.err' >/dev/null && grep -q 'no-such.jsonl' '$tmp/missing.err' && '$v' --data '$one' log --json | cmp -s - '$tmp/before-missing.jsonl'"

# Queries over the 2023 cycle: table, --json, --csv and --as-of.
q=$tmp/cycle
"$v" --data "$q" init --clock simulated --admin admin@dnp.gov.co --at 2023-01-02T08:00:00-05:00 >/dev/null
while IFS= read -r line; do
  case $line in
    '! load '*) cat "$src/${line#! load }" ;;
    '!'* | '>'* | '#'* | '') ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$src/tests/scenarios/cycle_2023.scn" >"$tmp/cycle.jsonl"
"$v" --data "$q" submit "$tmp/cycle.jsonl" >/dev/null 2>&1
check "audit --json shows the Q2 correction with both values" bash -c \
  "'$v' --data '$q' audit --entity 25799 --object IP-155 --type ProgressReported --json | jq -e '[.rows[].change] | any(test(\"12.0 → 14.0\"))' >/dev/null"
check "audit --as-of a day before the correction does not know it" bash -c \
  "'$v' --data '$q' audit --entity 25799 --object IP-155 --as-of 2023-07-30 --json | jq -e '[.rows[].change] | all(test(\"→ 14.0\") | not)' >/dev/null"
check "audit --actor without --entity crosses entities: the Cundinamarca reviewer on Chía and Tenjo" bash -c \
  "'$v' --data '$q' audit --actor dsuarez@cundinamarca.gov.co --json | jq -e '([.rows[].entity] | unique) == [\"25175\", \"25799\"] and ([.rows[].actor] | unique) == [\"dsuarez@cundinamarca.gov.co\"]' >/dev/null"
check "audit needs --entity or --actor" bash -c "! '$v' --data '$q' audit --type ProgressReported 2>/dev/null"
check "compliance --csv has a header and one row per entity" bash -c \
  "'$v' --data '$q' compliance --campaign KPT-2023 --milestone Q2 --department 25 --csv | head -1 | grep -q '^entity,'"
check "progress table" bash -c "'$v' --data '$q' progress --entity 25799 --campaign KPT-2023 --milestone Q2 | grep -q Sobresaliente"
jq '.semaforo = {"sobresaliente": 95}' "$q/config.json" >"$tmp/config.json" && cp "$tmp/config.json" "$q/config.json"
check "semáforo bands come from the configuration" bash -c \
  "'$v' --data '$q' progress --entity 25799 --campaign KPT-2023 --milestone Q2 --json | jq -e '[.rows[] | select(.goal==\"IP-155\") | .semaforo] == [\"Satisfactorio\"]' >/dev/null"
check "a query without its required option is refused" bash -c "! '$v' --data '$q' compliance --campaign KPT-2023 2>/dev/null"
check "rebuild gives the incremental projections" bash -c "'$v' --data '$q' rebuild | grep -c 'identical to the incremental' | grep -q '^6$'"

# Integrity: a signed checkpoint, an evidence bundle checked offline, and a tampered copy.
check "the signing key is the owner's only" bash -c "test \$(stat -c %a '$q/signing.key') = 600"
check "key show prints the public key" bash -c "'$v' --data '$q' key show | grep -q 'BEGIN PUBLIC KEY'"
check "checkpoint" bash -c "'$v' --data '$q' checkpoint | grep -q 'checkpoint: tree_size'"
check "verify checks the checkpoint's root and signature" bash -c "'$v' --data '$q' verify | grep -q '1 signature(s) verified'"
"$v" --data "$q" key show >"$tmp/published.pem"
"$v" --data "$d" key show >"$tmp/other.pem"
check "verify --key: the checkpoints are signed with the published key" bash -c \
  "'$v' --data '$q' verify --key '$tmp/published.pem' | grep -q '1 signature(s) verified with $tmp/published.pem'"
check "verify --key: another ledger's key is refused at the checkpoint" bash -c \
  "! '$v' --data '$q' verify --key '$tmp/other.pem' >'$tmp/other.out' 2>&1 && grep -q 'checkpoint signature does not verify' '$tmp/other.out'"
check "verify --key: a missing key file is named, with the reason" bash -c \
  "! '$v' --data '$q' verify --key '$tmp/none.pem' >'$tmp/none.out' 2>&1 && grep -q 'cannot read the public key: cannot open $tmp/none.pem' '$tmp/none.out'"
check "evidence bundle" bash -c "'$v' --data '$q' evidence --entity 25799 --out '$tmp/bundle' >/dev/null"
check "the bundle holds every event of the entity's stream and its registration" bash -c \
  "'$v' --data '$q' log --json | jq -c 'select(.envelope.stream==\"25799\")' >'$tmp/own.jsonl' && test -s '$tmp/own.jsonl' && \
   cat '$tmp/bundle/events/'*.json | jq -c 'select(.envelope.stream==\"25799\")' | cmp -s - '$tmp/own.jsonl' && \
   cat '$tmp/bundle/events/'*.json | jq -s -e 'any(.[]; .type==\"EntityRegistered\" and .payload.entity==\"25799\")' >/dev/null"
check "verify --bundle offline" bash -c "'$v' verify --bundle '$tmp/bundle' | grep -q '^verify --bundle: OK'"
cp -r "$tmp/bundle" "$tmp/forged"
f=$(ls "$tmp/forged/events/"*.vdev | head -1)
printf '\x01' | dd of="$f" bs=1 seek=40 conv=notrunc status=none
check "verify --bundle names an edited event" bash -c "! '$v' verify --bundle '$tmp/forged' >'$tmp/forged.out' 2>&1 && grep -q 'FAILED\\|failed\\|mismatch' '$tmp/forged.out'"
first=$("$v" --data "$q" log --json | jq -s '[.[] | select(.type=="Checkpoint") | .payload.tree_size] | first')
"$v" --data "$q" checkpoint >/dev/null
check "consistency: a proof that the log only grew since the first checkpoint" bash -c \
  "'$v' --data '$q' consistency --from-size $first --out '$tmp/consistency.json' | grep -q 'extends the one of $first'"
check "verify --consistency offline, with the published key" bash -c \
  "'$v' verify --consistency '$tmp/consistency.json' --key '$tmp/published.pem' | grep -q '^verify --consistency: OK: the log of'"
check "verify --consistency: another ledger's key is refused" bash -c \
  "'$v' verify --consistency '$tmp/consistency.json' --key '$tmp/other.pem' >'$tmp/co.out'; test \$? -eq 2 && grep -q 'is not the trusted key' '$tmp/co.out'"
jq '.proof[0] = "'"$(printf '0%.0s' $(seq 64))"'"' "$tmp/consistency.json" >"$tmp/consistency-forged.json"
check "verify --consistency names a forged proof" bash -c \
  "'$v' verify --consistency '$tmp/consistency-forged.json' >'$tmp/cf.out'; test \$? -eq 2 && grep -q 'proof: it does not lead' '$tmp/cf.out'"
cp "$q/config.json" "$tmp/config-kept.json"
jq --arg k "$d/signing.key" '.signing_key = $k' "$tmp/config-kept.json" >"$q/config.json"
check "consistency refuses checkpoints signed by another key than the configured one" bash -c \
  "! '$v' --data '$q' consistency --from-size $first 2>'$tmp/ck.err' && grep -q 'is signed by key .*, the configured key is' '$tmp/ck.err'"
cp "$tmp/config-kept.json" "$q/config.json"
check "consistency names the checkpoints there are" bash -c \
  "! '$v' --data '$q' consistency --from-size 1 2>'$tmp/c1.err' && grep -q 'no signed checkpoint of tree size 1; the ledger.s are of $first, ' '$tmp/c1.err'"

# Importers: DIVIPOLA as DANE exports it, twice (the second time every row is a duplicate).
i=$tmp/import
"$v" --data "$i" init --admin admin@dnp.gov.co >/dev/null
dane="$src/../shared/data/divipola/divipola_dane_2025.csv"
check "import divipola: DANE's export" bash -c \
  "'$v' --data '$i' import divipola '$dane' --json 2>/dev/null | jq -s -e '(map(select(.status==\"imported\")) | length) > 1100' >/dev/null"
check "import divipola --dry-run writes nothing new and a re-import is all duplicates" bash -c \
  "before=\$('$v' --data '$i' log | wc -l); '$v' --data '$i' import divipola '$dane' --dry-run >/dev/null 2>&1; \
   '$v' --data '$i' import divipola '$dane' >/dev/null 2>&1; test \$('$v' --data '$i' log | wc -l) -eq \$before"

# MDM: the published Antioquia 2020 table imports and recomputes to it.
mdmcsv="$src/../shared/data/mdm/mdm_2020_antioquia.csv"
check "mdm import of the published table" bash -c \
  "'$v' --data '$i' mdm import '$mdmcsv' --vigencia 2020 --actor admin@dnp.gov.co 2>&1 | grep -q '125 rows: 125 imported'"
check "mdm --compare: the recompute equals DNP's published scores" bash -c \
  "'$v' --data '$i' mdm --compare '$mdmcsv' --vigencia 2020 | grep -q '125 municipalities compared, 0 difference'"
check "mdm --json: Medellín" bash -c \
  "'$v' --data '$i' mdm --vigencia 2020 --entity 05001 --json | jq -e '.rows[0].mdm > 82.3163 and .rows[0].mdm < 82.3164' >/dev/null"

s=$tmp/system
"$v" --data "$s" init --admin admin@dnp.gov.co >/dev/null
echo '{"command":"register_entity","command_id":"e25","actor":"admin@dnp.gov.co","at":"2020-01-01T00:00:00-05:00","entity":"25","name":"CUNDINAMARCA","kind":"departamento","department":"25"}' |
  "$v" --data "$s" submit --json - >"$tmp/sys.jsonl" 2>/dev/null
check "a system-clock ledger refuses 'at'" jq -e -s '.[0].status=="rejected" and .[0].reason=="at_not_allowed"' "$tmp/sys.jsonl" >/dev/null

echo "$passed passed, $failed failed"
((failed == 0))
