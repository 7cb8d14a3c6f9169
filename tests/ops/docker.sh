#!/usr/bin/env bash
# tests/ops/docker.sh SOURCE_DIR - what can be validated of the deployment (docker/) without a
# container engine: the compose file is well-formed and has the production shape (three KRaft
# brokers of the pinned release, replication factor 3, min.insync.replicas 2, no unclean leader
# election; PostgreSQL 15; the migration and topics jobs before the workers; every worker of
# workers/ with two replicas and a unique, stable group instance id; Prometheus with ops/prometheus
# scraping exactly the worker replicas), its topics are those of schemas/topics.json, and
# docker/Dockerfile builds with scripts/build (the commands scripts/test builds with), installs
# only packages scripts/bootstrap installs, and runs as a non-root user. First of all the compose
# file is validated against the Compose Specification's JSON schema, as vendored by the pinned
# check-jsonschema (tests/interop/requirements.txt; offline, --builtin-schema).
set -euo pipefail
src=${1:?usage: docker.sh SOURCE_DIR}
PY=$src/.cache/venv/bin/python
[ -x "$PY" ] || { echo "FAIL: no $PY (scripts/bootstrap)"; exit 1; }
"$src/.cache/venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$src/docker/compose.yaml" ||
  { echo "FAIL: docker/compose.yaml does not follow the Compose Specification's schema"; exit 1; }
exec "$PY" - "$src" <<'PYEOF'
import json, re, shlex, sys, yaml
src = sys.argv[1]
fail = []
def check(ok, msg):
    if not ok:
        fail.append(msg)

pinned = re.search(r'<kafka.version>(.*)</kafka.version>', open(f'{src}/scripts/kafka-dist/pom.xml').read()).group(1)
compose = yaml.safe_load(open(f'{src}/docker/compose.yaml'))
svc = compose['services']

# Kafka: three KRaft combined nodes of the pinned release.
kafka = {n: s for n, s in svc.items() if str(s.get('image', '')).startswith('apache/kafka:') and 'KAFKA_NODE_ID' in s.get('environment', {})}
check(len(kafka) == 3, f'{len(kafka)} Kafka brokers, want 3')
ids = set()
for n, s in kafka.items():
    e = s['environment']
    check(s['image'] == f'apache/kafka:{pinned}', f'{n}: image {s["image"]}, the tests run {pinned}')
    check(str(e.get('KAFKA_DEFAULT_REPLICATION_FACTOR')) == '3', f'{n}: default replication factor is not 3')
    check(str(e.get('KAFKA_MIN_INSYNC_REPLICAS')) == '2', f'{n}: min.insync.replicas is not 2')
    check(str(e.get('KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE')).lower() == 'false', f'{n}: unclean leader election is not off')
    check(str(e.get('KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR')) == '3', f'{n}: __consumer_offsets is not replicated 3 times')
    check('controller' in e.get('KAFKA_PROCESS_ROLES', ''), f'{n}: not a KRaft controller')
    ids.add(str(e['KAFKA_NODE_ID']))
    voters = {v.split('@')[0] for v in e.get('KAFKA_CONTROLLER_QUORUM_VOTERS', '').split(',')}
    check(voters == {'1', '2', '3'}, f'{n}: quorum voters {sorted(voters)}')
check(ids == {'1', '2', '3'}, f'broker node ids {sorted(ids)}')

pg = [s for s in svc.values() if str(s.get('image', '')).split(':')[0] == 'postgres']
check(len(pg) == 1 and pg[0]['image'] == 'postgres:15', 'PostgreSQL is not one postgres:15 service')

def cmd(s):
    c = s.get('command', [])
    return shlex.split(c) if isinstance(c, str) else list(c)

check(cmd(svc.get('migrate', {}))[:1] == ['cs-migrate'], 'no migrate job running cs-migrate')

# Workers: every program of workers/CMakeLists.txt, two replicas, unique stable instance ids,
# started after the migration and topics jobs.
programs = re.findall(r'add_executable\((cs-[a-z0-9-]+)', open(f'{src}/workers/CMakeLists.txt').read())
check(programs, 'no worker program found in workers/CMakeLists.txt')
replicas = {}
for n, s in svc.items():
    c = cmd(s)
    if c and c[0] in programs:
        replicas.setdefault(c[0], []).append(n)
        check('--group-instance-id' in c, f'{n}: no --group-instance-id')
        if '--group-instance-id' in c:
            replicas.setdefault(c[0] + ' ids', []).append(c[c.index('--group-instance-id') + 1])
        dep = s.get('depends_on', {})
        for job in ('migrate', 'topics'):
            check(dep.get(job, {}).get('condition') == 'service_completed_successfully', f'{n}: does not wait for the {job} job')
        check(s.get('image') == 'careerstream:latest' and s.get('build', {}).get('dockerfile') == 'docker/Dockerfile', f'{n}: not the careerstream image')
        check(str(s.get('environment', {}).get('CS_METRICS_PORT')) == '9100', f'{n}: metrics not on 9100')
for p in programs:
    check(len(replicas.get(p, [])) >= 2, f'{p}: {len(replicas.get(p, []))} replicas, want 2')
    ids = replicas.get(p + ' ids', [])
    check(len(ids) == len(set(ids)), f'{p}: group instance ids repeat: {ids}')

# Topics: schemas/topics.json (+ dead-letter topics) and the audit anchors topic.
want = {}
for t in json.load(open(f'{src}/schemas/topics.json'))['topics']:
    want[t['name']] = (t['partitions'], t.get('retention_ms'))
    want[t['dead_letter']['name']] = (t['dead_letter']['partitions'], None)
anchor = re.search(r'#define CS_AUDIT_ANCHOR_TOPIC "([^"]+)"', open(f'{src}/libcore/include/cs/audit.h').read()).group(1)
want[anchor] = (1, None)
got = {}
for line in ' '.join(cmd(svc.get('topics', {}))).splitlines():
    m = re.match(r'\s*create (\S+) --partitions (\d+)(?: --config retention\.ms=(\d+))?', line)
    if m:
        got[m.group(1)] = (int(m.group(2)), int(m.group(3)) if m.group(3) else None)
check(got == want, f'topics job {got} differs from schemas/topics.json {want}')

# Prometheus: the rules and scrape configuration of ops/prometheus, scraping every worker replica.
prom = svc.get('prometheus', {})
check(any(v.startswith('../ops/prometheus:/etc/prometheus') for v in prom.get('volumes', [])), 'Prometheus does not mount ops/prometheus')
scrape = yaml.safe_load(open(f'{src}/ops/prometheus/prometheus.yml'))
check('careerstream.rules.yml' in scrape.get('rule_files', []), 'prometheus.yml does not load the rules')
jobs = {j['job_name']: sorted(t for sc in j.get('static_configs', []) for t in sc['targets']) for j in scrape['scrape_configs']}
for p in programs:
    check(jobs.get(p) == sorted(f'{n}:9100' for n in replicas.get(p, [])), f'prometheus.yml job {p}: {jobs.get(p)} is not the compose replicas')

# Dockerfile: scripts/build in the build stage, as scripts/test; only bootstrap's packages; non-root.
df = open(f'{src}/docker/Dockerfile').read()
stages = re.split(r'^FROM ', df, flags=re.M)[1:]
check(len(stages) == 2 and stages[0].startswith('debian:bookworm AS build') and stages[1].startswith('debian:bookworm-slim AS runtime'),
      'the Dockerfile is not a bookworm build stage and a bookworm-slim runtime stage')
check(re.search(r'^RUN scripts/build\b', stages[0], re.M) is not None, 'the build stage does not build with scripts/build')
check(re.search(r'^scripts/build\b', open(f'{src}/scripts/test').read(), re.M) is not None, 'scripts/test does not build with scripts/build')
boot = open(f'{src}/scripts/bootstrap').read()
boot_pkgs = set(re.search(r'PACKAGES=\((.*?)\)', boot, re.S).group(1).split())
build_pkgs = set(re.search(r'install -y --no-install-recommends\s*\\?(.*?)&&', stages[0].replace('\\\n', ' '), re.S).group(1).split())
check(build_pkgs and build_pkgs <= boot_pkgs, f'the build stage installs packages scripts/bootstrap does not: {sorted(build_pkgs - boot_pkgs)}')
user = re.findall(r'^USER (\S+)', stages[1], re.M)
check(user and not user[-1].startswith(('root', '0')), 'the runtime image does not run as a non-root user')
shipped = set(re.findall(r'/src/build/bin/(cs-[a-z0-9-]+)', stages[1]))
used = {cmd(s)[0] for s in svc.values() if cmd(s) and cmd(s)[0].startswith('cs-')}
check(used <= shipped, f'compose runs programs the image lacks: {sorted(used - shipped)}')

for f in fail:
    print('FAIL:', f)
if fail:
    sys.exit(1)
print(f'ok: compose has 3 brokers of Kafka {pinned}, postgres:15, migrate and topics jobs, '
      f'{sum(len(replicas[p]) for p in programs)} worker replicas of {", ".join(programs)}, Prometheus; '
      f'{len(want)} topics; the Dockerfile builds with scripts/build, as non-root')
PYEOF
