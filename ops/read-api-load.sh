#!/usr/bin/env bash
# Single-series requests against `mekong serve` as its own process, from curl (a client outside the server's
# process, as a portal or dashboard tier would be): BENCHMARKS.md, "Read API", session 17.
#
#   bash ops/read-api-load.sh [database-url] [requests] [parallel]
#
# Reads the database `mekong-bench statistics` leaves (mekong_bench_statistics), needs the release binaries
# (swift build -c release --product mekong; --product mekong-bench). Prints requests/s for JSON and SDMX-CSV, three
# runs each, then, with the server stopped, PostgreSQL's own ceiling for the same statements in the same run
# (`mekong-bench read-api-ceiling`: 8 connections flat out, no HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
url="${1:-postgresql://mekong:mekong@localhost/mekong_bench_statistics}"
requests="${2:-8000}"
parallel="${3:-32}"
port=8199
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

psql -Atq "$url" -c "SELECT DISTINCT area FROM statistics.indicator_table WHERE indicator = (SELECT min(code) FROM statistics.indicators)" > "$work/areas"
psql -Atq "$url" -c "SELECT code FROM statistics.indicators WHERE recorded_to IS NULL" > "$work/indicators"
python3 - "$work" "$requests" "$port" <<'EOF'
import random, sys
work, requests, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
areas = open(f"{work}/areas").read().split()
indicators = open(f"{work}/indicators").read().split()
for fmt in ["json", "sdmx-csv"]:
    random.seed(7)
    with open(f"{work}/urls-{fmt}", "w") as f:
        for _ in range(requests):
            f.write(f'url = "http://127.0.0.1:{port}/v1/data/{random.choice(indicators)}?area={random.choice(areas)}&format={fmt}"\n')
            f.write('output = "/dev/null"\n')
EOF

.build/release/mekong serve --port "$port" --anonymous-per-hour 1000000000 --anonymous-per-day 1000000000 \
    --postgres "$url" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.2; done

for fmt in json sdmx-csv; do
    curl -s -K <(head -200 "$work/urls-$fmt") > /dev/null  # warm the connections' prepared statements
    for run in 1 2 3; do
        start=$(date +%s.%N)
        statuses=$(curl -s --no-progress-meter --parallel --parallel-max "$parallel" -K "$work/urls-$fmt" -w '%{http_code}\n' | sort | uniq -c | tr -s ' \n' ' ')
        end=$(date +%s.%N)
        python3 -c "print('$fmt, $parallel connections, run $run: %.0f requests/s (statuses:$statuses)' % ($requests / ($end - $start)))"
    done
done

kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
.build/release/mekong-bench read-api-ceiling --requests $((requests / 4)) --runs 3 | grep '^baseline'
