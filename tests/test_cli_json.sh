#!/usr/bin/env bash
# test_cli_json.sh — every in-process command answers --json with valid
# JSON on stdout (the commands that talk to a server are covered by
# test_cli, test_welfare_cli and the audit tests): demo, bench-ledger,
# bench-welfare (JSON Lines), certs and certs issue, and the offline audit
# commands. Each output is parsed with Python's json module. TAP on stdout.
set -uo pipefail

: "${BORSELLINO:?set by meson}"
base="${BORSELLINO_TEST_TMP:-/tmp}"
mkdir -p "$base"
work="$(mktemp -d "$base/cli-json-XXXXXX")"
failures=0
number=0

# json_check NAME LINES COMMAND...: runs it, parses stdout as one JSON
# document (LINES=one) or as JSON Lines (LINES=lines).
json_check() {
  local name="$1" lines="$2"
  shift 2
  number=$((number + 1))
  if "$@" > "$work/out.json" 2> "$work/err.txt" &&
     python3 -c '
import json, sys
text = open(sys.argv[1]).read()
docs = [json.loads(line) for line in text.splitlines() if line.strip()] if sys.argv[2] == "lines" else [json.loads(text)]
assert docs and all(isinstance(d, (dict, list)) for d in docs)
' "$work/out.json" "$lines"; then
    echo "ok $number - $name --json"
  else
    echo "not ok $number - $name --json"
    sed 's/^/# /' "$work/out.json" "$work/err.txt" | head -20 | tee /dev/stderr
    failures=$((failures + 1))
  fi
}

echo "1..10"
data="$work/data"
json_check "demo" one "$BORSELLINO" demo --data "$data" --json
json_check "bench-ledger" one "$BORSELLINO" bench-ledger --transfers 20k --accounts 1000 --dir "$work" --json
json_check "bench-welfare" lines "$BORSELLINO" bench-welfare --employees 500 --purchases 2000 --group 500 --dir "$work" --json
json_check "certs" one "$BORSELLINO" certs --out "$work/certs" --json
json_check "certs issue" one "$BORSELLINO" certs issue --ca-dir "$work/certs" --name extra --role auditor --json
json_check "audit verify" one "$BORSELLINO" audit verify --data "$data" --json
json_check "audit pubkey" one "$BORSELLINO" audit pubkey --data "$data" --json
json_check "audit checkpoints" one "$BORSELLINO" audit checkpoints --data "$data" --json
json_check "audit trial-balance" one "$BORSELLINO" audit trial-balance --data "$data" --json
json_check "audit reconcile" one "$BORSELLINO" audit reconcile --data "$data" --json

if [ $failures -eq 0 ]; then rm -rf "$work"; else echo "# kept $work"; fi
exit $((failures > 0))
