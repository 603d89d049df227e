# syntax=docker/dockerfile:1
#
# The FHIR server as a container: `docker build -t fhir-server .` then
# `docker run -p 8080:8080 fhir-server` (embedded SQLite in the working directory), or see docker-compose.yml
# for PostgreSQL + Orthanc. Every setting is an FHIR_SERVER_* environment variable (fhir_server/settings.py).

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: install the project and its dependencies into a self-contained virtualenv -----------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the wheel is built from. A regular (non-editable) install: the wheel carries migrations/ and
# conformance/ under fhir_server/_bundled/ (pyproject force-include), so the runtime image needs no checkout.
COPY pyproject.toml README.md ./
COPY fhir_server/ fhir_server/
COPY mappings/ mappings/
COPY migrations/ migrations/
COPY conformance/ conformance/
RUN pip install .

# ---- runtime: the virtualenv only, run by an unprivileged user ---------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A fixed numeric uid/gid, so orchestrators can check runAsNonRoot and volumes can be chowned ahead of time.
# Its home is the working directory: the embedded default database (sqlite:///fhir-server.db, relative)
# is created there, so it must be writable by this user.
# Bulk export files go to fhir-exports/ there (FHIR_SERVER_EXPORT_DIR's default): made here and owned by the user,
# so a named volume mounted on it starts with that ownership.
RUN groupadd --system --gid 10001 fhir \
    && useradd --system --uid 10001 --gid fhir --home-dir /var/lib/fhir-server --create-home \
       --shell /usr/sbin/nologin fhir \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/fhir-server/fhir-exports

COPY --from=build /opt/venv /opt/venv

WORKDIR /var/lib/fhir-server
USER 10001:10001

EXPOSE 8080

# The slim image has no curl or wget; the standard library is enough. urlopen raises on any non-2xx answer
# or a refused connection, so the exit status is non-zero exactly when the liveness probe fails.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]

CMD ["fhir-server", "serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"]
