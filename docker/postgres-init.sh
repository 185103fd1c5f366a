#!/bin/bash
# MLflow's backend store lives beside Airflow's metadata DB in the same Postgres server.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<-EOSQL
  CREATE USER mlflow WITH PASSWORD '${MLFLOW_DB_PASSWORD}';
  CREATE DATABASE mlflow OWNER mlflow;
EOSQL
