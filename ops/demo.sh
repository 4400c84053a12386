#!/usr/bin/env bash
# The main job, end to end, on the embedded defaults: an in-process dev Kafka cluster, the catalog's topics, the
# sample events of ops/samples published, the audit projection run until caught up, and the audit trail verified.
# Uses its own database (mekong_demo, recreated on every run) so the development database stays as it was.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${MEKONG_BIN:-$(swift build -c release --show-bin-path)/mekong}
[ -x "$bin" ] || { echo "no $bin: run ops/setup.sh first" >&2; exit 1; }

export MEKONG_DEV_STATE=${MEKONG_DEV_STATE:-$(mktemp -d)/dev-cluster.json}
demo_db=${MEKONG_DEMO_DATABASE:-mekong_demo}
admin_url=${MEKONG_DEMO_ADMIN_URL:-postgresql://mekong:mekong@localhost:5432/mekong}
export MEKONG_POSTGRES=${MEKONG_DEMO_POSTGRES:-postgresql://mekong:mekong@localhost:5432/$demo_db}

echo "== recreating database $demo_db"
psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $demo_db WITH (FORCE)" -c "CREATE DATABASE $demo_db"

echo "== mekong dev (ephemeral mock Kafka cluster)"
"$bin" dev > "$MEKONG_DEV_STATE.log" 2>&1 &
dev_pid=$!
trap 'kill $dev_pid 2>/dev/null || true; wait $dev_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$MEKONG_DEV_STATE" ] && break; sleep 0.1; done
cat "$MEKONG_DEV_STATE.log"

echo "== mekong topics apply"
"$bin" topics apply

for sample in ops/samples/*.ndjson; do
    topic=$(basename "$sample" .ndjson)
    echo "== mekong publish --topic $topic $sample"
    "$bin" publish --topic "$topic" "$sample"
done

echo "== mekong project audit --stop-when-caught-up"
"$bin" project audit --stop-when-caught-up

echo "== mekong audit verify"
"$bin" audit verify

echo "== mekong tail reports --from-beginning (first 5 lines)"
"$bin" tail reports --from-beginning > "$MEKONG_DEV_STATE.tail"
head -n 5 "$MEKONG_DEV_STATE.tail"

published=$(cat ops/samples/*.ndjson | grep -c .)
recorded=$(psql "$MEKONG_POSTGRES" -tAX -c "SELECT count(*) FROM audit.events WHERE problem IS NULL")
echo "== sample events published: $published; recorded and verified in the audit trail: $recorded"
[ "$published" -eq "$recorded" ]
