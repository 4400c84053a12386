#!/usr/bin/env bash
# Creates (idempotently) the Python virtual environment of the audit-projection baseline and prints the path of its
# python. The environment lives at ${MEKONG_BENCH_VENV:-.build/bench-venv}, relative to the repository root (a
# relative MEKONG_BENCH_VENV is taken relative to the root too). Needs python3 with the venv module and PyPI.
#
#   python="$(bash ops/bench/python-env.sh)"
#   "$python" ops/bench/audit_baseline.py --help
#
# Progress goes to stderr; stdout is only the python path, so callers can capture it.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${MEKONG_BENCH_VENV:-.build/bench-venv}"
case "$venv" in
    /*) ;;
    *) venv="$PWD/$venv" ;;
esac
python="$venv/bin/python"

# What the baseline needs. Binary wheels: confluent-kafka bundles its own librdkafka, psycopg[binary] its own libpq.
requirements=("confluent-kafka>=2.3" "psycopg[binary]>=3.1")

ready() {
    [ -x "$python" ] && "$python" - <<'PY' 2>/dev/null
import confluent_kafka, psycopg, psycopg_binary  # noqa: F401
PY
}

if ! ready; then
    echo "creating the benchmark virtual environment at $venv" >&2
    if [ ! -x "$python" ]; then
        if ! python3 -m venv "$venv" >&2; then
            echo "python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
    "$python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}" >&2
    if ! ready; then
        echo "the virtual environment at $venv lacks confluent-kafka or psycopg[binary] after installing them" >&2
        exit 1
    fi
fi

echo "$python"
