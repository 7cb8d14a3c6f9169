#!/usr/bin/env bash
# tests/ops/metric_names.sh BUILD_BIN_DIR - every metric the alert rules (ops/prometheus) and the
# Grafana dashboard (ops/grafana) use exists: a live cs-audit and a live cs-progress are started
# against the test broker and a database of their own, their /metrics scraped, and each name used
# must be one of their metric families (histograms with _bucket, _sum, _count), Prometheus' own
# `up`, or listed in ops/metrics-planned.txt. A planned name that a worker already exports, or
# that ops/ no longer uses, fails the test too, so the planned list cannot rot. The dashboard
# must also be valid JSON with the panels Grafana needs (ids unique, every target a PromQL expr).
set -euo pipefail
BIN=${1:?usage: metric_names.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=$ROOT/.cache/venv/bin/python
[ -x "$PY" ] || { echo "FAIL: no $PY (scripts/bootstrap)"; exit 1; }
T=$(mktemp -d)
DB=t_metrics_$$
DSN="${CS_PG_DSN%/*}/$DB"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
export CS_ANCHOR_TOPIC="t.metrics.$$.anchors"
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}t.metrics.$$.$t"; done
for w in cs-audit cs-progress; do
  port=$(free_port)
  "$BIN/$w" --pg-dsn "$DSN" --topics "$topics" --group "$w-metrics$$" --metrics-port "$port" \
    --metrics-addr 127.0.0.1 --log-level=error 2>"$T/$w.err" &
  PIDS+=($!)
  ok=0
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/metrics" >"$T/$w.metrics" 2>/dev/null && [ -s "$T/$w.metrics" ]; then ok=1; break; fi
    sleep 0.2
  done
  [ "$ok" = 1 ] || { cat "$T/$w.err"; fail "$w served no /metrics on port $port"; }
done

"$PY" - "$ROOT" "$T/cs-audit.metrics" "$T/cs-progress.metrics" <<'PYEOF'
import json, re, sys, yaml
root, scrapes = sys.argv[1], sys.argv[2:]
fail = []
exported = {}  # family -> type
for f in scrapes:
    for line in open(f):
        m = re.match(r'# TYPE (\S+) (\S+)', line)
        if m:
            exported[m.group(1)] = m.group(2)
assert exported, 'no metric family scraped'
planned = [l.strip() for l in open(f'{root}/ops/metrics-planned.txt') if l.strip() and not l.startswith('#')]

NAME = re.compile(r'\b(cs_[a-z0-9_]+|up)\b')
used = {}  # name -> where
rules = yaml.safe_load(open(f'{root}/ops/prometheus/careerstream.rules.yml'))
for g in rules['groups']:
    for r in g['rules']:
        for n in NAME.findall(r['expr']):
            used.setdefault(n, set()).add('rule ' + r.get('alert', r.get('record', '?')))

dash = json.load(open(f'{root}/ops/grafana/careerstream-pipeline.json'))
ids = [p['id'] for p in dash['panels']]
if len(ids) != len(set(ids)):
    fail.append(f'dashboard panel ids repeat: {ids}')
for p in dash['panels']:
    if not p.get('title') or not p.get('targets'):
        fail.append(f'dashboard panel {p.get("id")} has no title or no target')
    for t in p.get('targets', []):
        if not t.get('expr'):
            fail.append(f'dashboard panel {p["id"]} target {t.get("refId")} has no expr')
        for n in NAME.findall(t.get('expr', '')):
            used.setdefault(n, set()).add('panel ' + p['title'])

def family(n):
    for suf in ('_bucket', '_sum', '_count'):
        if n.endswith(suf) and exported.get(n[:-len(suf)]) == 'histogram':
            return n[:-len(suf)]
    if n.endswith(('_bucket', '_sum', '_count')) and n.rsplit('_', 1)[0] in planned:
        return n.rsplit('_', 1)[0]
    return n

used_families = {}
for n, where in used.items():
    used_families.setdefault(family(n), set()).update(where)
for n, where in sorted(used_families.items()):
    if n == 'up' or n in exported:
        continue
    if n not in planned:
        fail.append(f'{n} (used by {", ".join(sorted(where))}) is neither exported by cs-audit/cs-progress nor in ops/metrics-planned.txt')
for n in planned:
    if n in exported:
        fail.append(f'{n} is exported now: delete it from ops/metrics-planned.txt')
    if n not in used_families:
        fail.append(f'{n} is in ops/metrics-planned.txt but no rule or panel uses it')
for f in fail:
    print('FAIL:', f)
if fail:
    sys.exit(1)
print(f'ok: {len(used_families)} metric names used by the rules and the dashboard: '
      f'{len([n for n in used_families if n in exported or n == "up"])} exported, {len(planned)} planned')
PYEOF
