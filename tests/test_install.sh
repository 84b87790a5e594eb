#!/usr/bin/env bash
# test_install.sh — `meson install` into a temporary DESTDIR, then the
# installed files and binaries (issue 9, point 3 and 4).
#
#   test_install.sh BUILD_DIR
#
# Checks that every file dist/meson.build installs is there with its mode;
# runs the installed binaries (--help, `borsellino demo`, borsellinod on an
# ephemeral port stopped with SIGTERM); renders both man pages and checks
# that every option of every --help (each command's too) is in its page;
# verifies the systemd unit (systemd-analyze verify when installed, and its
# hardening keys with a small parser); checks the exit codes 0/1/2; drives
# the bash completion function with COMP_WORDS/COMP_CWORD. TAP on stdout.
set -uo pipefail

build="${1:?usage: test_install.sh BUILD_DIR}"
base="${BORSELLINO_TEST_TMP:-/tmp}"
mkdir -p "$base"
work="$(mktemp -d "$base/install-XXXXXX")"
destdir="$work/destdir"
failures=0
number=0
server_pid=""
trap '[ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

ok() {
  number=$((number + 1))
  if [ "$1" -eq 0 ]; then echo "ok $number - $2"; return; fi
  echo "not ok $number - $2"
  echo "# failed: $2" >&2 # stderr: what the CI log shows
  failures=$((failures + 1))
}
skip() {
  number=$((number + 1))
  echo "ok $number - $1 # SKIP $2"
}
diag() { sed 's/^/# /' "$@" | head -40; }

echo "1..18"

# 1. Install.
meson install -C "$build" --no-rebuild --destdir "$destdir" > "$work/install.out" 2>&1
status=$?
ok $status "meson install --destdir into a temporary directory"
[ $status -eq 0 ] || diag "$work/install.out"

# The configured directories, from meson itself.
prefix="" bindir="" mandir="" datadir=""
meson introspect "$build" --buildoptions > "$work/options.json"
eval "$(python3 - "$work/options.json" <<'PYTHON'
import json, shlex, sys
options = {o["name"]: o["value"] for o in json.load(open(sys.argv[1]))}
prefix = options["prefix"]
print("prefix=" + shlex.quote(prefix))
for name in ("bindir", "mandir", "datadir"):
    value = options[name]
    print(name + "=" + shlex.quote(value if value.startswith("/") else prefix + "/" + value))
PYTHON
)"
bin="$destdir$bindir"
man="$destdir$mandir"
share="$destdir$datadir"
unit="$destdir$prefix/lib/systemd/system/borsellinod.service"

# 2. Every file, with its mode.
mode_check() { # mode_check MODE FILE...
  local mode="$1" file bad=0; shift
  for file in "$@"; do
    if [ ! -f "$file" ]; then echo "# missing: ${file#"$destdir"}"; bad=1
    elif [ "$(stat -c %a "$file")" != "$mode" ]; then
      echo "# mode $(stat -c %a "$file") instead of $mode: ${file#"$destdir"}"; bad=1
    fi
  done
  return $bad
}
mode_check 755 "$bin/borsellino" "$bin/borsellinod" &&
  mode_check 644 "$man/man1/borsellino.1" "$man/man8/borsellinod.8" "$unit" \
    "$share/borsellino/borsellino.proto" \
    "$share/bash-completion/completions/borsellino" \
    "$share/bash-completion/completions/borsellinod"
ok $? "binaries (0755), man pages, unit, proto and completions (0644) installed"

# 3. The installed binaries run.
"$bin/borsellino" --help > "$work/borsellino.help" && "$bin/borsellinod" --help > "$work/borsellinod.help" &&
  grep -q "^usage: borsellino " "$work/borsellino.help" && grep -q "^usage: borsellinod " "$work/borsellinod.help"
ok $? "installed borsellino --help and borsellinod --help exit 0"

data="$work/data"
"$bin/borsellino" demo --data "$data" > "$work/demo.out" 2>&1
status=$?
ok $status "installed borsellino demo --data seeds a data directory"
[ $status -eq 0 ] || diag "$work/demo.out"

# 4. The installed server, on an ephemeral port, stopped with SIGTERM.
"$bin/borsellinod" --data "$data" --listen 127.0.0.1:0 2> "$work/server.log" &
server_pid=$!
address=""
for _ in $(seq 1 100); do
  address="$(sed -n 's/.*listening.*address=\(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/server.log" | head -1)"
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] && "$bin/borsellino" status --addr "$address" > "$work/status.out" 2>&1
ok $? "installed borsellinod listens on an ephemeral port; borsellino status answers"
kill -TERM "$server_pid" 2>/dev/null
wait "$server_pid"
status=$?
server_pid=""
ok $status "borsellinod exits 0 on SIGTERM"
[ $status -eq 0 ] || diag "$work/server.log"

# 5. The man pages render without warnings, and hold every option.
render() { # render PAGE: plain ASCII text, no hyphenation, wide
  if command -v man > /dev/null; then
    LC_ALL=C MANWIDTH=200 man -l "$1" 2> "$work/render.err"
  else
    LC_ALL=C groff -man -Tascii -rLL=200n "$1" 2> "$work/render.err" | col -bx
  fi
}
for page in "$man/man1/borsellino.1" "$man/man8/borsellinod.8"; do
  render "$page" > "$work/$(basename "$page").txt"
  [ -s "$work/$(basename "$page").txt" ] && [ ! -s "$work/render.err" ] &&
    { ! command -v groff > /dev/null || [ -z "$(LC_ALL=C groff -man -Tascii -ww -z "$page" 2>&1)" ]; }
  ok $? "$(basename "$page") renders without warnings"
done

# options_missing BINARY PAGE_TEXT [WORDS...]: every --option of BINARY
# WORDS --help that is not in the page.
options_missing() {
  local binary="$1" text="$2"; shift 2
  "$binary" "$@" --help 2>/dev/null | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u |
    while read -r option; do
      grep -qE -- "(^|[^a-z0-9-])$option([^a-z0-9-]|\$)" "$text" || echo "$binary $* --help: $option"
    done
}
options_missing "$bin/borsellinod" "$work/borsellinod.8.txt" > "$work/missing8"
[ ! -s "$work/missing8" ]
ok $? "every option of borsellinod --help is in borsellinod(8)"
diag "$work/missing8"

# Every command path borsellino's completion knows, the man page must cover.
# shellcheck disable=SC1091
source "$share/bash-completion/completions/borsellino"
all_paths() { # all_paths WORDS...: WORDS and every command path below
  local child
  echo "$*"
  [ $# -ge 3 ] && return
  for child in $(_borsellino_commands "$bin/borsellino" "$@"); do all_paths "$@" "$child"; done
}
all_paths > "$work/paths"
: > "$work/missing1"
while read -r path; do
  # shellcheck disable=SC2086
  options_missing "$bin/borsellino" "$work/borsellino.1.txt" $path >> "$work/missing1"
  # shellcheck disable=SC2086
  [ -z "$path" ] || grep -qF "borsellino $path" "$work/borsellino.1.txt" ||
    echo "no mention of borsellino $path" >> "$work/missing1"
done < "$work/paths"
[ ! -s "$work/missing1" ] && [ "$(wc -l < "$work/paths")" -gt 30 ]
ok $? "every command and every option of borsellino's --help pages is in borsellino(1) ($(wc -l < "$work/paths") command paths)"
diag "$work/missing1"

grep -q "^EXIT STATUS" "$work/borsellino.1.txt" && grep -q "^EXIT STATUS" "$work/borsellinod.8.txt" &&
  grep -q "Exit codes: 0 success, 1 the operation failed, 2 bad usage" "$work/borsellino.help"
ok $? "both man pages and borsellino --help document the exit codes"

# 6. The systemd unit.
python3 - "$unit" "$bindir" > "$work/unit.out" 2>&1 <<'PYTHON'
import sys
path, bindir = sys.argv[1:3]
keys = {}
section = None
for number, line in enumerate(open(path, encoding="utf-8"), 1):
    line = line.strip()
    if not line or line.startswith(("#", ";")):
        continue
    if line.startswith("[") and line.endswith("]"):
        section = line[1:-1]
        continue
    assert section and "=" in line, f"line {number}: not key=value: {line}"
    key, value = line.split("=", 1)
    keys.setdefault((section, key), []).append(value)
expected = {
    "ExecStart": bindir + "/borsellinod --data /var/lib/borsellino --listen 127.0.0.1:7450",
    "DynamicUser": "yes", "StateDirectory": "borsellino", "ProtectSystem": "strict",
    "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
    "NoNewPrivileges": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces": "yes",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native", "SystemCallFilter": "@system-service",
    "UMask": "0077", "CapabilityBoundingSet": "", "Restart": "on-failure",
    "KillSignal": "SIGTERM",
}
bad = 0
for key, value in expected.items():
    if keys.get(("Service", key), [None])[0] != value:
        print(f"[Service] {key}={value} expected, found {keys.get(('Service', key))}")
        bad = 1
for key in ("LimitNOFILE", "TimeoutStopSec"):
    if ("Service", key) not in keys:
        print(f"[Service] {key} missing")
        bad = 1
if ("Install", "WantedBy") not in keys:
    print("[Install] WantedBy missing")
    bad = 1
sys.exit(bad)
PYTHON
status=$?
ok $status "the unit has every hardening key (DynamicUser, ProtectSystem=strict, ...)"
[ $status -eq 0 ] || diag "$work/unit.out"

if command -v systemd-analyze > /dev/null; then
  # The unit names the installed path; verify a copy naming the DESTDIR one.
  mkdir -p "$work/unit"
  sed "s|^ExecStart=$bindir/|ExecStart=$bin/|" "$unit" > "$work/unit/borsellinod.service"
  # Documentation=man:borsellinod(8) is looked up with man: the DESTDIR's.
  MANPATH="$man" SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$work/unit/borsellinod.service" \
    > "$work/verify.out" 2>&1
  status=$?
  # And a broken copy is refused, so the verification is known to work here.
  mkdir -p "$work/broken"
  sed 's/^ExecStart=/ExecStart=no-such-relative-path /' "$work/unit/borsellinod.service" \
    > "$work/broken/borsellinod.service"
  MANPATH="$man" systemd-analyze verify "$work/broken/borsellinod.service" > /dev/null 2>&1 && status=1
  ok $status "systemd-analyze verify accepts borsellinod.service (and refuses a broken copy)"
  [ $status -eq 0 ] || diag "$work/verify.out"
  # The exposure score of `systemd-analyze security` (0 = locked down,
  # 10 = none); the unit scores 1.6 with systemd 252: keep it at most 2.
  systemd-analyze security --offline=true --threshold=20 "$work/unit/borsellinod.service" \
    > "$work/security.out" 2>&1
  status=$?
  ok $status "systemd-analyze security: $(grep -o 'Overall exposure level for [^:]*: [0-9.]*' "$work/security.out")"
  [ $status -eq 0 ] || diag "$work/security.out"
else
  skip "systemd-analyze verify borsellinod.service" "systemd-analyze not installed (Debian systemd); the keys were checked above"
  skip "systemd-analyze security borsellinod.service" "systemd-analyze not installed (Debian systemd)"
fi

# 7. Exit codes: 0 ok, 1 failed, 2 bad usage.
codes=""
"$bin/borsellino" > /dev/null 2>&1; codes+="$? "
"$bin/borsellino" no-such-command > /dev/null 2>&1; codes+="$? "
for command in account transfer status bench demo bench-ledger bench-welfare audit backup certs welfare "audit verify" "welfare fund"; do
  # shellcheck disable=SC2086
  "$bin/borsellino" $command --no-such-option > /dev/null 2>&1; codes+="$? "
done
"$bin/borsellinod" --no-such-option > /dev/null 2>&1; codes+="$? "
[ "$codes" = "2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 " ]
ok $? "bad usage exits 2 (no command, unknown command, unknown option of each command, borsellinod): $codes"

codes=""
"$bin/borsellino" status --addr 127.0.0.1:1 --timeout-ms 2000 > /dev/null 2>&1; codes+="$? "
"$bin/borsellino" account lookup 1 --addr 127.0.0.1:1 > /dev/null 2>&1; codes+="$? "
"$bin/borsellino" audit verify --data "$work/no-such-dir" > /dev/null 2>&1; codes+="$? "
"$bin/borsellinod" --data /proc/no-such-dir --listen 127.0.0.1:0 > /dev/null 2>&1; codes+="$? "
"$bin/borsellino" audit verify --data "$data" > /dev/null 2>&1; codes+="$? "
[ "$codes" = "1 1 1 1 0 " ]
ok $? "a failure exits 1 (no server, no data directory, unusable data directory), success 0: $codes"

# 8. Bash completion, through the function bash calls.
complete_words() { # complete_words WORD...: the completions of the last word
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  if [ "$(basename "$1")" = borsellinod ]; then _borsellinod; else _borsellino; fi
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
touch "$work/completion-file.pem"
mkdir -p "$work/completion-dir"
B="$bin/borsellino"
results=(
  "$(complete_words "$B" "")"
  "$(complete_words "$B" au)"
  "$(complete_words "$B" audit "")"
  "$(complete_words "$B" welfare statement "")"
  "$(complete_words "$B" account create --le)"
  "$(complete_words "$B" audit verify --pu)"
  "$(complete_words "$B" demo --data "$work/completion-d")"
  "$(complete_words "$B" status --tls-ca "$work/completion-f")"
  "$(complete_words "$bin/borsellinod" --tls-c)"
)
expected=(
  "account audit backup bench bench-ledger bench-welfare certs demo status transfer welfare "
  "audit "
  "balance checkpoints export proof pubkey reconcile report sign trial-balance verify "
  "employee funder provider "
  "--ledger "
  "--pubkey "
  "$work/completion-dir "
  "$work/completion-file.pem "
  "--tls-ca --tls-cert "
)
bad=0
for i in "${!expected[@]}"; do
  if [ "${results[i]}" != "${expected[i]}" ]; then
    echo "# completion case $i: got '${results[i]}', expected '${expected[i]}'"; bad=1
  fi
done
ok $bad "bash completion: commands, audit and welfare subcommands, options, paths"

# Every command the completion offers leads to a real command: each path
# without children ("welfare category" has "set" and "list") has a --help
# that exits 0.
bad=0
while read -r path; do
  grep -q "^$path " "$work/paths" && continue
  # shellcheck disable=SC2086
  "$bin/borsellino" $path --help > /dev/null 2>&1 || { echo "# borsellino $path --help failed"; bad=1; }
done < "$work/paths"
ok $bad "every command the completion offers has a --help that exits 0"

exit $((failures > 0))
