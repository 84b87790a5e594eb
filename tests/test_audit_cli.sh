#!/usr/bin/env bash
# test_audit_cli.sh — the audit commands end to end: inclusion proofs
# checked with openssl alone, and signing and verification over the network.
#
# Builds a real data directory (the demo welfare platform), has its state
# signed, writes proofs with `borsellino audit proof`, and checks them by
# running the procedure of docs/audit.md (the ```sh proof-check block, read
# from the document itself, so the documented procedure is what is tested)
# with openssl and coreutils only: a good proof holds; a proof with one byte
# of a record, of the signature or of the signed message changed, or with a
# record missing, is rejected. Then a borsellinod on a copy: `audit sign
# --addr` and `audit verify --addr --pubkey` (signatures checked here, with
# the auditor's key; another key refused), and the offline verify of the
# directory the server leaves. TAP on stdout.
set -uo pipefail

: "${BORSELLINO:?set by meson}"
doc="$(dirname "$0")/../docs/audit.md"
[ -n "${BORSELLINO_AUDIT_DOC:-}" ] && doc="$BORSELLINO_AUDIT_DOC"
base="${BORSELLINO_TEST_TMP:-/tmp}"
mkdir -p "$base"
work="$(mktemp -d "$base/audit-proof-XXXXXX")"
failures=0
number=0

ok() {
  number=$((number + 1))
  if [ "$1" -eq 0 ]; then echo "ok $number - $2"; return; fi
  echo "not ok $number - $2"
  echo "# failed: $2" >&2 # stderr: what the CI log shows
  failures=$((failures + 1))
}

echo "1..11"

# The procedure, extracted from the document.
procedure="$work/check.sh"
awk '/^```sh proof-check$/ {inside = 1; next} /^```$/ {inside = 0} inside' "$doc" > "$procedure"
[ -s "$procedure" ] && grep -q "openssl pkeyutl" "$procedure"
ok $? "docs/audit.md holds the proof-check procedure"

check() { # check PROOF_DIR: runs the documented procedure in a copy
  local copy="$work/run-$RANDOM"
  cp -r "$1" "$copy"
  (cd "$copy" && PUB="$work/pub.pem" bash "$procedure") > "$copy.out" 2>&1 &&
    grep -q "proof holds" "$copy.out"
}

data="$work/data"
"$BORSELLINO" demo --data "$data" > "$work/demo.out" 2>&1 &&
  "$BORSELLINO" audit sign --data "$data" --json > "$work/sign.json" &&
  "$BORSELLINO" audit pubkey --data "$data" --out "$work/pub.pem"
ok $? "a data directory with a signed state and its public key"

"$BORSELLINO" audit proof --data "$data" --sequence 5 --out "$work/proof5" --json > "$work/proof5.json" &&
  check "$work/proof5"
ok $? "a proof of record 5 holds under openssl alone"

# A proof asked for by transfer id: the first transfer of the journal
# export, which must be the first record of the proof.
row="$("$BORSELLINO" audit export journal --data "$data" --format jsonl | grep -m1 '"kind":"transfer"')"
id="$(echo "$row" | sed -n 's/.*"kind":"transfer","result":"[a-z_]*","id":"\([0-9]*\)".*/\1/p')"
sequence="$(echo "$row" | sed -n 's/^{"sequence":\([0-9]*\),.*/\1/p')"
if [ -n "$id" ] && "$BORSELLINO" audit proof --data "$data" --transfer "$id" --out "$work/proof-id" > /dev/null; then
  first="$(ls "$work/proof-id/records" | head -1)"
  [ "$((10#${first%.bin}))" = "$sequence" ] && check "$work/proof-id"
  ok $? "a proof of transfer $id (record $sequence) holds"
else
  ok 1 "a proof by transfer id (id \"$id\" from the journal export)"
fi

flip() { # flip FILE OFFSET: changes one byte
  local byte
  byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $(( (byte + 1) % 256 )))" |
    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

tampered=0
for target in record signature message; do
  copy="$work/tampered-$target"
  cp -r "$work/proof5" "$copy"
  case $target in
    record) flip "$copy/records/$(ls "$copy/records" | head -1)" 104 ;; # the amount
    signature) flip "$copy/checkpoint.sig" 10 ;;
    message) flip "$copy/checkpoint.msg" 30 ;;
  esac
  if check "$copy"; then tampered=$((tampered + 1)); echo "# a proof with its $target changed still holds"; fi
done
ok $tampered "a changed record, signature or signed message is rejected"

copy="$work/tampered-missing"
cp -r "$work/proof5" "$copy"
records=("$copy"/records/*.bin)
if [ "${#records[@]}" -ge 2 ]; then
  rm "${records[1]}"
  ! check "$copy"
  ok $? "a proof with a record left out is rejected"
else
  ok 1 "a proof with a record left out (the proof has only ${#records[@]} record)"
fi

# A record after the last signed checkpoint: the command says what to do.
last=$("$BORSELLINO" audit checkpoints --data "$data" --json | grep -o '"sequence": [0-9]*' | tail -1 | grep -o '[0-9]*')
"$BORSELLINO" audit proof --data "$data" --sequence $((last + 1)) --out "$work/none" > "$work/none.out" 2>&1
status=$?
[ $status -ne 0 ] && { grep -q "no such record\|audit sign" "$work/none.out"; }
ok $? "no proof past the last signed checkpoint, with a hint"

# ---- over the network ----
: "${BORSELLINOD:?set by meson}"
served="$work/served"
"$BORSELLINO" backup --data "$data" --out "$served" > /dev/null
"$BORSELLINOD" --data "$served" --listen 127.0.0.1:0 2> "$work/server.log" &
server=$!
port=""
for _ in $(seq 100); do
  port="$(sed -n 's/.*event=listening address=127.0.0.1:\([0-9]*\).*/\1/p' "$work/server.log")"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ]
ok $? "borsellinod serves a backup of the directory (its signing key copied along)"

"$BORSELLINO" audit sign --addr "127.0.0.1:$port" --json > "$work/net-sign.json" &&
  "$BORSELLINO" audit verify --addr "127.0.0.1:$port" --pubkey "$work/pub.pem" --json > "$work/net-verify.json" &&
  grep -q '"ok": true' "$work/net-verify.json" && grep -q '"key": "given"' "$work/net-verify.json" &&
  ! grep -q '"signatures_checked": 0,' "$work/net-verify.json"
ok $? "audit sign and audit verify --pubkey over the network"

other="$work/other"
"$BORSELLINO" demo --data "$other" > /dev/null 2>&1 &&
  "$BORSELLINO" audit pubkey --data "$other" --out "$work/other.pem"
"$BORSELLINO" audit verify --addr "127.0.0.1:$port" --pubkey "$work/other.pem" > "$work/net-wrong.out" 2>&1
status=$?
[ $status -eq 1 ] && grep -q "not the one given" "$work/net-wrong.out"
ok $? "verification under another key fails, saying so"

kill -TERM $server
wait $server
"$BORSELLINO" audit verify --data "$served" --pubkey "$work/pub.pem" --json > "$work/after.json" &&
  grep -q '"ok": true' "$work/after.json"
ok $? "the directory the server leaves verifies offline under the key"

if [ $failures -eq 0 ]; then rm -rf "$work"; else echo "# kept $work"; fi
exit $((failures > 0))
