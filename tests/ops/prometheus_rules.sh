#!/usr/bin/env bash
# tests/ops/prometheus_rules.sh SOURCE_DIR - the alert rules and the scrape configuration of
# ops/prometheus are valid (promtool check rules, check config) and every rule passes its unit
# tests (promtool test rules: each rule firing and not firing on synthetic series), and no rule
# is left without a test. promtool comes from Debian's prometheus package (scripts/bootstrap).
set -euo pipefail
src=${1:?usage: prometheus_rules.sh SOURCE_DIR}
dir=$src/ops/prometheus
command -v promtool >/dev/null || { echo "FAIL: promtool is not installed (scripts/bootstrap installs Debian's prometheus)"; exit 1; }
promtool check rules "$dir/careerstream.rules.yml"
promtool check config "$dir/prometheus.yml"
(cd "$dir" && promtool test rules careerstream.rules.test.yml)
# Every alert has at least one test that expects it to fire.
untested=0
for a in $(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$dir/careerstream.rules.yml"); do
  if ! awk -v a="$a" '$1 == "alertname:" && $2 == a { want = 1; next }
                      want && /exp_labels:/ { found = 1 } /alertname:/ { want = 0 }
                      END { exit !found }' "$dir/careerstream.rules.test.yml"; then
    echo "FAIL: alert $a has no test that expects it to fire"
    untested=$((untested + 1))
  fi
done
[ "$untested" -eq 0 ] || exit 1
echo "ok: $(grep -c '^ *- alert:' "$dir/careerstream.rules.yml") alert rules checked and unit-tested"
