# hangar-otelcol gateway image (docs/deploy.md). Build from the repository root:
#   docker build -t hangar-otelcol:0.1.0 .
# Two stages: the first installs the package and its dependencies into a virtualenv
# (every dependency ships binary wheels, so no compiler), the second copies only that
# virtualenv onto the same base, without pip's caches or the source tree.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/hangar-otelcol
COPY pyproject.toml setup.py README.md ./
COPY hangar_otelcol ./hangar_otelcol
COPY receivers ./receivers
COPY processors ./processors
COPY exporters ./exporters
COPY connectors ./connectors
COPY extensions ./extensions
RUN /opt/hangar-otelcol/bin/pip install --no-cache-dir .

FROM ${PYTHON_IMAGE}
# a fixed numeric user, so Kubernetes' runAsNonRoot can check it (deploy/kubernetes)
RUN groupadd --system --gid 10001 hangar \
    && useradd --system --uid 10001 --gid hangar --no-create-home \
        --home-dir /var/lib/hangar-otelcol --shell /usr/sbin/nologin hangar \
    && install -d -o hangar -g hangar -m 0700 /var/lib/hangar-otelcol
COPY --from=build /opt/hangar-otelcol /opt/hangar-otelcol
# the shipped configs and recipes, for --config (the package embeds config/gateway.yaml)
COPY config /usr/share/hangar-otelcol/config
ENV PATH=/opt/hangar-otelcol/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HANGAR_OTELCOL_STATE_DIR=/var/lib/hangar-otelcol
# persistent queues, checkpoints and the count-once ledger: one SQLite file
# (docs/durability.md); give it a volume, or what was acknowledged dies with the container
VOLUME ["/var/lib/hangar-otelcol"]
USER 10001:10001
# OTLP gRPC, OTLP HTTP, cost metrics, self-metrics, health (config/gateway.yaml)
EXPOSE 4317 4318 8889 8888 13133
# the health_check extension: 200 when every component is up, else 503, which urlopen
# raises on (the slim image has no curl)
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:13133/', timeout=4)"]
ENTRYPOINT ["hangar-otelcol"]
