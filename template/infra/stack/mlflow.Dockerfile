# The team stack's MLflow tracking server (compose.yaml builds it; template-owned).
# MLflow's own image carries neither the PostgreSQL driver nor the S3 client, so this
# adds exactly those two to a pinned MLflow. `just stack-up` passes MLFLOW_VERSION from
# the project's uv.lock, so the server runs the MLflow version the project's client uses.
# Every version is a build argument: an internal mirror, or newer pins, need no edit.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG MLFLOW_VERSION=3.17.2
ARG PSYCOPG2_VERSION=2.9.13
ARG BOTO3_VERSION=1.44.8

# psycopg2-binary and boto3 ship wheels: no compiler, no system packages. A private
# index: pass PIP_INDEX_URL as a build argument (or a pip.conf as a build secret).
RUN pip install --no-cache-dir --disable-pip-version-check \
        "mlflow==${MLFLOW_VERSION}" \
        "psycopg2-binary==${PSYCOPG2_VERSION}" \
        "boto3==${BOTO3_VERSION}"

# A fixed numeric non-root user; the server keeps no state in the container (runs and
# the registry in PostgreSQL, artifacts in the object store).
USER 10001:10001
ENV HOME=/tmp
WORKDIR /tmp
EXPOSE 5000

# compose.yaml gives the command: backend store, artifact destination, host and port.
ENTRYPOINT ["mlflow"]
CMD ["server", "--host=0.0.0.0", "--port=5000"]
