#!/bin/sh
# tests/contract/dsn_refusals.sh - a DSN that cannot work stops a program with exit 2 (a
# configuration error, never an outage retried forever), and no output shows its password.
#
# Usage: dsn_refusals.sh BUILD_BIN_DIR
# Needs no server: port 99999 and malformed DSNs are refused before any connection. The workers
# get a broker address nobody listens on; they must stop on the DSN before they need the broker.
# Each run is bounded by timeout: a program that retries instead of stopping fails the test.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset CS_PG_DSN CS_KAFKA_BROKERS CS_CONFIG
failed=0
n=0
secret=hunter2

# expect WANT_RC NEEDLE PROGRAM ARGS...
expect() {
  want=$1 needle=$2
  shift 2
  n=$((n + 1))
  timeout 30 "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ "$rc" != "$want" ]; then
    echo "not ok $n - $*: exit $rc, expected $want"
    sed 's/^/#   /' "$tmp/err" | head -5
    failed=1
  elif ! grep -qF -- "$needle" "$tmp/err"; then
    echo "not ok $n - $*: stderr lacks '$needle'"
    sed 's/^/#   /' "$tmp/err" | head -5
    failed=1
  elif grep -q "$secret\|ter2" "$tmp/out" "$tmp/err"; then
    echo "not ok $n - $*: the password is in the output"
    failed=1
  else
    echo "ok $n - $*: $(grep -v '^$' "$tmp/err" | tail -n 1 | cut -c1-200)"
  fi
}

for dsn in "postgresql://cs:$secret@127.0.0.1:99999/careerstream" \
           "host=127.0.0.1 port=99999 user=cs password=$secret"; do
  for w in cs-progress cs-audit; do
    expect 2 "port '99999' is not a TCP port" "$bin/$w" --pg-dsn "$dsn" --kafka-brokers 127.0.0.1:1 \
      --metrics-port -1
  done
  expect 3 "port '99999' is not a TCP port" "$bin/cs-audit" verify --pg-dsn "$dsn"
  expect 1 "port '99999' is not a TCP port" "$bin/cs-migrate" --pg-dsn "$dsn"
done
for dsn in "postgresql://cs:$secret@[::1/careerstream" "postgresql://cs:$secret@h/db?password=$secret&oops" \
           "host=127.0.0.1 password='$secret"; do
  expect 2 "invalid PostgreSQL DSN" "$bin/cs-progress" --pg-dsn "$dsn" --kafka-brokers 127.0.0.1:1 \
    --metrics-port -1
  expect 1 "invalid PostgreSQL DSN" "$bin/cs-migrate" --pg-dsn "$dsn"
  expect 1 "invalid PostgreSQL DSN" "$bin/cs-seed" --pg-dsn "$dsn"
done
echo "1..$n"
exit $failed
