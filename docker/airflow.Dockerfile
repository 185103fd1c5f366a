# The Airflow image with modelguard's pinned stack and the package installed.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt "apache-airflow-providers-celery" "apache-airflow-providers-fab"
COPY --chown=airflow:0 pyproject.toml /opt/modelguard/pyproject.toml
COPY --chown=airflow:0 include /opt/modelguard/include
RUN pip install --no-cache-dir --no-deps -e /opt/modelguard
