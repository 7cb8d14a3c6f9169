#!/usr/bin/env bash
# tests/contract/kafka_version.sh SOURCE_DIR - one Apache Kafka release everywhere.
#
# The release the tests, the demo and the benchmarks run (scripts/kafka-dist/pom.xml) is the one
# the production-shaped compose file deploys, and it is a 3.9.x: Kafka 4.0 removed the protocol
# versions librdkafka 2.0.2 (Debian bookworm's) gates its features on.
set -euo pipefail
src=$1
pinned=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$src/scripts/kafka-dist/pom.xml")
[ -n "$pinned" ] || { echo "FAIL: no kafka.version in scripts/kafka-dist/pom.xml"; exit 1; }
case "$pinned" in 3.9.*) ;; *) echo "FAIL: pinned Kafka $pinned is not a 3.9.x release"; exit 1 ;; esac
images=$(grep -o 'image: *apache/kafka:[^ ]*' "$src/docker/compose.yaml" | sed 's/.*://' | sort -u)
[ -n "$images" ] || { echo "FAIL: docker/compose.yaml uses no apache/kafka image"; exit 1; }
for v in $images; do
  [ "$v" = "$pinned" ] || { echo "FAIL: docker/compose.yaml runs Kafka $v, the tests run $pinned"; exit 1; }
done
# Every jar of the pinned release has a recorded checksum, and the broker's jar is among them.
grep -q " kafka_2.13-$pinned.jar\$" "$src/scripts/kafka-dist/jars.sha256" \
  || { echo "FAIL: jars.sha256 does not list kafka_2.13-$pinned.jar"; exit 1; }
echo "ok: Apache Kafka $pinned in scripts/kafka-dist and docker/compose.yaml"
