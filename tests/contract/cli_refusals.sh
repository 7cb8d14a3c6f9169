#!/bin/sh
# tests/contract/cli_refusals.sh - every program refuses stray arguments, unknown short flags and an
# empty text option, with exit status 2 and a message naming what it refused.
#
# Usage: cli_refusals.sh BUILD_BIN_DIR
# The refusals come from the configuration module (libcore/src/config.c) before a program connects
# to anything, so no broker or database is needed; CS_PG_DSN and CS_KAFKA_BROKERS are removed from
# the environment and each run is bounded by timeout, so a program that wrongly starts cannot hang
# the test. cs-produce takes files as arguments, so only its flags are checked.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset CS_PG_DSN CS_KAFKA_BROKERS CS_GROUP CS_TOPICS CS_CONFIG
failed=0
n=0

# expect NEEDLE PROGRAM ARGS...: exit status 2 and NEEDLE on stderr.
expect() {
  needle=$1
  shift
  n=$((n + 1))
  timeout 20 "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ "$rc" = 2 ] && grep -qF -- "$needle" "$tmp/err"; then
    echo "ok $n - $*: $(head -n 1 "$tmp/err")"
  else
    echo "not ok $n - $*: exit $rc, expected 2 and '$needle'; stderr:"
    sed 's/^/#   /' "$tmp/err"
    failed=1
  fi
}

for p in cs-progress cs-audit "cs-audit verify" cs-migrate cs-seed cs-loadgen cs-bench-runtime; do
  set -- $p
  prog=$bin/$1
  shift
  expect "unexpected argument 'stray'" "$prog" "$@" stray
  expect "unexpected argument 'stray'" "$prog" "$@" --log-level=warn stray
  expect "unknown option '-x'" "$prog" "$@" -x
done
expect "unknown option '-v'" "$bin/cs-produce" --dry-run -v
expect "--topic: an empty value is not allowed" "$bin/cs-produce" --dry-run --topic= /dev/null
for w in cs-progress cs-audit; do
  expect "--group: an empty value is not allowed" "$bin/$w" --group= --topics=cs.learning
  expect "--group: an empty value is not allowed" "$bin/$w" --group "" --topics=cs.learning
  expect "CS_GROUP: an empty value is not allowed" env CS_GROUP= "$bin/$w" --topics=cs.learning
  expect "--topics: an empty value is not allowed" "$bin/$w" --topics=
done
echo "1..$n"
exit $failed
