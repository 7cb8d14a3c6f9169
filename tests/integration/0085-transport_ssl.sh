#!/usr/bin/env bash
# tests/integration/0085-transport_ssl.sh
#      Kafka over TLS (security.protocol=SSL), with and without a client certificate (issue 17).
#
# A broker of the test's own with an SSL listener that requests, but does not require, a client
# certificate (scripts/kafka start --tls). cs-produce publishes with the CA only; cs-audit
# consumes presenting the client certificate (mutual TLS), its offsets and log rows in a fresh
# database of the harness's PostgreSQL, and cs-audit verify reads its anchors over TLS. A client
# that trusts another CA is refused in the TLS handshake, a client certificate of another CA is
# refused by the broker, and a client certificate whose key does not match is refused by
# librdkafka at start. The properties files are the only place the TLS settings are given.
set -euo pipefail
BIN=${1:?usage: 0085-transport_ssl.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MULT=${CS_TEST_TIMEOUT_MULT:-1}
T=$(mktemp -d /tmp/cs-it-0085-XXXXXX)
OUT=$T/out
mkdir -p "$OUT"
export CS_KAFKA_DIR=$T/kafka
DB=t_ssl_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
PIDS=()
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$ROOT/scripts/kafka" destroy >/dev/null 2>&1 || true
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    for f in "$OUT"/*; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 5 "$f" | cut -c1-400 >&2; }; done
  fi
  rm -rf "$T"
}
trap cleanup EXIT
umask 077
psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
echo "$DSN" >"$T/pg.dsn"

"$ROOT/scripts/kafka" start --tls >/dev/null 2>"$OUT/kafka-start.err" || { cat "$OUT/kafka-start.err"; fail "scripts/kafka start --tls"; }
read -r mode SB PROPS < <("$ROOT/scripts/kafka" secure)
[ "$mode" = ssl ] || fail "scripts/kafka secure: mode '$mode'"
SEC=$CS_KAFKA_DIR/security
grep -v '^#\|^ssl.certificate\|^ssl.key' "$PROPS" >"$T/ca-only.properties"
{ cat "$T/ca-only.properties"; echo "ssl.certificate.location=$SEC/client.pem"; echo "ssl.key.location=$SEC/client.key"; } >"$T/mtls.properties"
echo "kafka: SSL listener $SB"

run() { env -u CS_PG_DSN -u CS_KAFKA_BROKERS "$@"; }
prefix="t.ssl.$$."
export CS_ANCHOR_TOPIC="${prefix}anchors"
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile cs.derived; do topics="$topics${topics:+,}$prefix$t"; done

# cs-loadgen writes the events, cs-produce publishes them over TLS with the CA only.
run "$BIN/cs-loadgen" --seed 85 --learners 100 --days 0 --events 500 --jsonl "$T/ev.jsonl" 2>"$OUT/loadgen.err" \
  || fail "cs-loadgen"
run "$BIN/cs-produce" --kafka-brokers "$SB" --kafka-props-file "$T/ca-only.properties" --topic "${prefix}cs.learning" \
  "$T/ev.jsonl" >"$OUT/produce.out" 2>"$OUT/produce.err" || fail "cs-produce over SSL"
published=$(sed -n 's/.* \([0-9]*\) published, 0 failed$/\1/p' "$OUT/produce.err")
[ "${published:-0}" -gt 0 ] || fail "cs-produce published nothing"
echo "cs-produce over SSL (no client certificate): ok ($published events)"

# cs-audit presents the client certificate.
run "$BIN/cs-audit" --pg-dsn-file "$T/pg.dsn" --kafka-brokers "$SB" --kafka-props-file "$T/mtls.properties" \
  --topics "$topics" --group "cs-audit-t$$" --session-timeout-ms 6000 --drain --metrics-port -1 \
  2>"$OUT/audit.log" || fail "cs-audit over SSL with a client certificate exited $?"
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
[ "$(q "SELECT count(*) FROM system_logs")" -eq "$published" ] || fail "expected $published audit rows"
run "$BIN/cs-audit" verify --pg-dsn-file "$T/pg.dsn" --kafka-brokers "$SB" --kafka-props-file "$T/mtls.properties" \
  --anchors yes >"$OUT/verify.out" 2>"$OUT/verify.err" || fail "cs-audit verify over SSL"
echo "cs-audit over SSL with a client certificate: ok ($published logged, anchors verified)"

# Another CA: the handshake fails, named.
openssl req -x509 -newkey rsa:2048 -noenc -keyout "$T/other.key" -out "$T/other.pem" -days 1 -subj "/CN=other CA" \
  -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1
sed "s|^ssl.ca.location=.*|ssl.ca.location=$T/other.pem|" "$T/ca-only.properties" >"$T/other.properties"
echo "message.timeout.ms=5000" >>"$T/other.properties"
rc=0
timeout $((60 * MULT)) env -u CS_KAFKA_BROKERS "$BIN/cs-produce" --kafka-brokers "$SB" --kafka-props-file "$T/other.properties" \
  --topic "${prefix}cs.learning" "$T/ev.jsonl" >"$OUT/other.out" 2>"$OUT/other.err" || rc=$?
[ "$rc" -ne 0 ] || fail "cs-produce trusted a broker certificate of another CA"
grep -q "SSL handshake failed.*certificate verify failed" "$OUT/other.err" || fail "no handshake failure reported"
echo "another CA: refused (exit $rc): $(grep -o 'SSL handshake failed[^"]*' "$OUT/other.err" | head -1 | cut -c1-160)"

# A client certificate the broker's CA did not sign: the broker checks what a client presents
# (ssl.client.auth=requested) and refuses the handshake.
{ cat "$T/ca-only.properties"; echo "ssl.certificate.location=$T/other.pem"; echo "ssl.key.location=$T/other.key"
  echo "message.timeout.ms=5000"; } >"$T/foreign-cert.properties"
rc=0
timeout $((60 * MULT)) env -u CS_KAFKA_BROKERS "$BIN/cs-produce" --kafka-brokers "$SB" --kafka-props-file "$T/foreign-cert.properties" \
  --topic "${prefix}cs.learning" "$T/ev.jsonl" >"$OUT/foreign-cert.out" 2>"$OUT/foreign-cert.err" || rc=$?
[ "$rc" -ne 0 ] || fail "the broker took a client certificate of another CA"
grep -q "SSL handshake failed\|Disconnected\|broker transport failure\|certificate" "$OUT/foreign-cert.err" || fail "no handshake failure reported for a foreign client certificate"
echo "foreign client certificate: refused by the broker (exit $rc)"

# A client key that does not match its certificate: refused at start, naming the problem.
{ cat "$T/ca-only.properties"; echo "ssl.certificate.location=$SEC/client.pem"; echo "ssl.key.location=$T/other.key"; } \
  >"$T/mismatch.properties"
rc=0
timeout $((60 * MULT)) env -u CS_KAFKA_BROKERS "$BIN/cs-audit" --pg-dsn-file "$T/pg.dsn" --kafka-brokers "$SB" \
  --kafka-props-file "$T/mismatch.properties" --topics "$topics" --drain --metrics-port -1 \
  >"$OUT/mismatch.out" 2>"$OUT/mismatch.err" || rc=$?
[ "$rc" -ne 0 ] || fail "cs-audit started with a key that does not match its certificate"
grep -qi "private key does not match\|key values mismatch\|ssl" "$OUT/mismatch.err" || fail "the key mismatch is not named"
echo "mismatched client key: refused (exit $rc): $(grep -oi '[^"]*\(private key\|key values mismatch\)[^"]*' "$OUT/mismatch.err" | head -1 | cut -c1-200)"
echo "1 passed, 0 failed"
