#!/usr/bin/env bash
# Make sure a local PostgreSQL server is running and that the development role and database exist.
# Idempotent: safe to run again. Used by ops/setup.sh and .ci/run.
#   role/database: mekong / mekong (password "mekong", local development only), CREATEDB for the tests.
set -euo pipefail

version=${MEKONG_PG_VERSION:-15}
cluster=${MEKONG_PG_CLUSTER:-main}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version $cluster"; then
    as_root pg_createcluster "$version" "$cluster"
fi
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}' | grep -q online; then
    as_root pg_ctlcluster "$version" "$cluster" start
fi
for _ in $(seq 1 30); do
    as_postgres pg_isready -q && break
    sleep 1
done
as_postgres pg_isready

as_postgres psql -v ON_ERROR_STOP=1 -q <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mekong') THEN
        CREATE ROLE mekong LOGIN CREATEDB PASSWORD 'mekong';
    END IF;
END $$;
SQL
if ! as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'mekong'" | grep -q 1; then
    as_postgres createdb -O mekong mekong
fi
# libpq reads the development password from ~/.pgpass, so the default URL carries no secret.
pgpass="$HOME/.pgpass"
line="localhost:5432:*:mekong:mekong"
if ! grep -qxF "$line" "$pgpass" 2>/dev/null; then
    echo "$line" >> "$pgpass"
fi
chmod 600 "$pgpass"
echo "PostgreSQL $version/$cluster is running; development database: postgresql://mekong@localhost:5432/mekong"
