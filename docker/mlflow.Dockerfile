# docker-compose's MLflow registry server: MLflow's image with basic-auth, the Postgres driver and modelguard's
# server app (`mlflow server --app-name modelguard`: the `mlflow.app` entry point `modelguard` in pyproject.toml),
# built once instead of pip-installed at every start.
FROM ghcr.io/mlflow/mlflow:v3.17.2
# The pins are requirements.txt's. tzdata: the app checks the config's `schedule.timezone` with zoneinfo, which
# has no zones in an image without the system's zone files (the config would then fail and the app fall back to
# its defaults). pydantic and pyyaml, all else the app imports (modelguard.config), come with mlflow.
RUN pip install --no-cache-dir "mlflow[auth]==3.17.2" psycopg2-binary==2.9.13 tzdata==2026.6
COPY pyproject.toml /opt/modelguard/pyproject.toml
COPY include /opt/modelguard/include
COPY scripts/registry_bootstrap.py /opt/modelguard/registry_bootstrap.py
# --no-deps: only the package and its entry points; the server app needs nothing the lines above did not bring.
# Then fail the build, not the server's start, if the app is not found or its config does not load.
RUN pip install --no-cache-dir --no-deps /opt/modelguard \
 && python -c "from importlib.metadata import entry_points; \
assert 'modelguard' in entry_points(group='mlflow.app').names, 'no mlflow.app entry point modelguard'; \
from modelguard.config import load_config; load_config('/opt/modelguard/include/config/pipeline.compose.yaml'); \
import modelguard.registry_server as app; app.now()"
# The users DB (docker/mlflow_auth.ini) on the mlflow-auth volume: accounts and their permissions outlive the
# container, which a rebuild of this image replaces.
RUN mkdir -p /mlflow-auth
