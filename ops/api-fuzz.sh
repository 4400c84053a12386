#!/usr/bin/env bash
# Property-based conformance test of a running gateway against its own OpenAPI document.
#
#   bash ops/api-fuzz.sh BASE_URL API_KEY [MAX_EXAMPLES]
#
# BASE_URL: the gateway, e.g. http://localhost:8080 (the schema is read from BASE_URL/openapi.yaml and every
# request goes to BASE_URL; proxies are bypassed). API_KEY: a source's API key, sent as a bearer token.
# MAX_EXAMPLES: generated test cases per operation in the fuzzing phase (default 30); the examples, coverage
# and stateful phases add their own cases.
#
# Environment: API_FUZZ_SIGNING_KEY, a `.key` file of that source, and API_FUZZ_SOURCE_URI, its registered URI:
# then every generated request is signed as the source would sign it (ops/api_fuzz_hooks.py), and gets past the
# signature checks to the deeper code. API_FUZZ_CHECKS: the checks (default `all`); API_FUZZ_SEED.
#
# Schemathesis (with cryptography, for signing) is installed quietly with pip into .build/api-fuzz-venv on first
# use. The run uses a fixed seed and no example database, so it is reproducible. Exits non-zero when any check
# fails (or the schema cannot be loaded). Run it against a ready gateway: every 5xx, including a documented 503,
# fails not_a_server_error. The coverage phase also sends requests without the key, with other content types and
# with other methods (e.g. TRACE, QUERY); those must get 401, 415 and 405, never a 5xx.
set -euo pipefail

usage() {
    echo "usage: bash ops/api-fuzz.sh BASE_URL API_KEY [MAX_EXAMPLES]" >&2
    exit 2
}
[[ $# -ge 2 && $# -le 3 ]] || usage
base_url=${1%/}
api_key=$2
max_examples=${3:-30}
[[ $base_url =~ ^https?://[^/]+ ]] || { echo "api-fuzz: BASE_URL must be an http(s) URL, got '$1'" >&2; exit 2; }
[[ -n $api_key ]] || { echo "api-fuzz: API_KEY is empty" >&2; exit 2; }
[[ $max_examples =~ ^[1-9][0-9]*$ ]] || { echo "api-fuzz: MAX_EXAMPLES must be a positive integer" >&2; exit 2; }

# The option names below are those of this release; other major versions spell them differently.
schemathesis_version=${SCHEMATHESIS_VERSION:-4.32.5}
seed=${API_FUZZ_SEED:-20251101}
checks=${API_FUZZ_CHECKS:-all}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$repo/.build/api-fuzz-venv
st=$venv/bin/schemathesis

installed=$("$st" --version 2>/dev/null | awk '{print $NF}' || true)
if [[ $installed != "$schemathesis_version" ]] || ! "$venv/bin/python" -c 'import cryptography' 2>/dev/null; then
    echo "api-fuzz: installing schemathesis $schemathesis_version into $venv" >&2
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version" cryptography
fi

# Pinned configuration, so that no schemathesis.toml found in the working directory changes the run. The
# cache (requests replayed from earlier runs, crash files for `st replay`) is off: runs stay reproducible and
# nothing is written to the working tree. Each failure in the report carries a curl command instead.
config=$venv/api-fuzz.toml
cat >"$config" <<'TOML'
[cache]
enabled = false

# Whether an event, a report or a survey batch is accepted depends on what openapi.yaml cannot carry: the catalog's
# JSON Schema of each event type's data, the master data, the source's scope and I-JSON's integer range inside
# `data` (docs/gateway.md). A body valid against openapi.yaml may be refused for them: 422, 403 or 400 (never 5xx,
# which not_a_server_error fails).
[[operations]]
include-operation-id = ["postEvents", "postReport", "postSurveyBatch"]
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 422, 429, "5xx"]

# A window whose `from` is after its `to` is refused (400), which no schema of two date-times can say.
[[operations]]
include-operation-id = ["getReconciliation"]
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 429, "5xx"]

# Half of the classification requests name the one the test database holds, so that answers are reached.
[dictionaries.classifications]
values = ["vn-admin-units"]

[parameters]
"path.id" = { dictionary = "classifications", probability = 0.5 }
TOML
# Serializers and signing: ops/api_fuzz_hooks.py.
hooks=$repo/ops/api_fuzz_hooks.py

command=(
    "$st" --config-file "$config" run "$base_url/openapi.yaml"
    --url "$base_url"
    --header "Authorization: Bearer $api_key"
    --checks "$checks"
    --seed "$seed"
    --max-examples "$max_examples"
    --generation-database none
    --workers 1
)
# Print the command, with the key masked.
shown=("${command[@]}")
for i in "${!shown[@]}"; do
    if [[ ${shown[$i]} == "Authorization: Bearer $api_key" ]]; then shown[$i]='Authorization: Bearer ***'; fi
done
printf 'api-fuzz: running'; printf ' %q' "${shown[@]}"; echo

cd "$repo"
exec env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
    NO_PROXY='*' no_proxy='*' SCHEMATHESIS_HOOKS="$hooks" HYPOTHESIS_STORAGE_DIRECTORY="$venv/hypothesis" \
    "${command[@]}"
