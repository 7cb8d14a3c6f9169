#!/bin/sh
# tests/contract/help_all.sh - every program under build/bin answers --help: exit 0 and a usage
# text on stdout, without touching a broker or a database.
#
# Usage: help_all.sh BUILD_BIN_DIR
# Every executable in the directory is run, except the test suites themselves: test_* (Check unit
# suites) and it_* (Check integration suites) take no options and would run their tests instead.
# cs-testworker is a test helper but a real worker (cs_worker_main), so it is checked too. At
# least the programs named below must be there, so an empty or wrong directory cannot pass.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
n=0
for must in cs-audit cs-bench-decode cs-loadgen cs-migrate cs-produce cs-progress cs-schemagen cs-seed; do
  [ -x "$bin/$must" ] || { echo "not ok - $bin/$must is missing"; failed=1; }
done
for f in "$bin"/*; do
  name=${f##*/}
  [ -f "$f" ] && [ -x "$f" ] || continue
  case $name in test_* | it_*) continue ;; esac
  n=$((n + 1))
  rc=0
  timeout 20 "$f" --help </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" = 0 ] && grep -qi '^usage: ' "$tmp/out" && [ "$(wc -l <"$tmp/out")" -ge 2 ]; then
    echo "ok $n - $name --help: $(head -n 1 "$tmp/out")"
  else
    echo "not ok $n - $name --help: exit $rc; stdout:"
    sed 's/^/#   /' "$tmp/out" | head -5
    sed 's/^/#   stderr: /' "$tmp/err" | head -5
    failed=1
  fi
done
# A subcommand's help too.
n=$((n + 1))
if "$bin/cs-audit" verify --help </dev/null >"$tmp/out" 2>&1 && grep -q '^usage: cs-audit verify' "$tmp/out"; then
  echo "ok $n - cs-audit verify --help"
else
  echo "not ok $n - cs-audit verify --help"
  failed=1
fi
# Every mode of a worker with defaults of its own names it and lists those defaults.
for mode in "" replay redrive; do
  n=$((n + 1))
  if [ -x "$bin/cs-readiness" ] && "$bin/cs-readiness" $mode --help </dev/null >"$tmp/out" 2>&1 &&
    grep -q "^usage: cs-readiness ${mode:+$mode }\[options\]" "$tmp/out" &&
    grep -q 'own defaults of the options below: --batch-linger=true --batch-ms=1000' "$tmp/out"; then
    echo "ok $n - cs-readiness ${mode:+$mode }--help lists the worker's defaults"
  else
    echo "not ok $n - cs-readiness ${mode:+$mode }--help: no usage line for the mode, or no defaults"
    head -n 3 "$tmp/out" | sed 's/^/#   /'
    failed=1
  fi
done
echo "1..$n"
exit $failed
