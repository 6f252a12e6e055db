# syntax=docker/dockerfile:1
# Every shopflow image from one file, on one shared base stage:
#   docker build --build-arg SERVICE=loader -t shopflow-loader .    (validator, kpi, api alike)
#   docker build --target cli -t shopflow-cli .                     (shopflow command + moto server)
# No registry reachable (air-gapped or proxied CI)? Build an equivalent base from Debian
# packages first and pass it in:
#   container/build-python-base && docker build --build-arg PYTHON_IMAGE=shopflow-python:3.11-bookworm ...
# Sizes, users and the scratch volume: container/README.md.

# Python 3.11 on Debian bookworm, pinned by digest (bump with
# `docker buildx imagetools inspect python:3.11-slim-bookworm`).
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16
# The uv that wrote uv.lock (the Makefile installs the same minor version).
ARG UV_VERSION=0.13.9

# --- base: what every image starts from ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS base
RUN groupadd --system --gid 10001 shopflow \
 && useradd --system --uid 10001 --gid shopflow --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin shopflow
ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

# --- manifests: the workspace's pyproject files and lock, nothing else --------------------
# uv resolves the whole workspace, so every member's manifest must be there; copied out of the
# full context so that a new member needs no new line here, and so that the dependency layers
# below stay cached while only code changes (COPY --from is cached by content).
FROM base AS manifests
COPY . /context
RUN mkdir /manifests && cd /context \
 && find . -name pyproject.toml -exec cp --parents {} /manifests/ \; \
 && cp uv.lock /manifests/

# --- builder: uv, pinned, and the manifests -----------------------------------------------
FROM base AS builder
ARG UV_VERSION
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}" \
 && ln -s /opt/uv/bin/uv /usr/local/bin/uv
WORKDIR /src
COPY --from=manifests /manifests/ ./

# --- cli: the shopflow command and the moto server of the compose stack -------------------
FROM builder AS cli-build
RUN uv sync --frozen --no-dev --no-install-workspace --package shopflow-cli --extra moto
COPY contracts/src contracts/src
COPY runtime/src runtime/src
COPY cli/src cli/src
# Package data the CLI wheel carries (see cli/pyproject.toml).
COPY infra/template.yaml infra/statemachine.asl.json infra/
COPY samples/thelook-small samples/thelook-small
RUN uv sync --frozen --no-dev --no-editable --package shopflow-cli --extra moto

FROM base AS cli
COPY --from=cli-build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 5000
CMD ["shopflow", "--help"]

# --- service: one service, chosen by SERVICE (loader, validator, kpi, api) -----------------
FROM builder AS service-build
ARG SERVICE
RUN case "${SERVICE}" in ""|*/*) echo "build with --build-arg SERVICE=<a directory of services/>" >&2; exit 1;; esac
RUN uv sync --frozen --no-dev --no-install-workspace --package "shopflow-${SERVICE}"
COPY contracts/src contracts/src
COPY runtime/src runtime/src
COPY services/${SERVICE}/src services/${SERVICE}/src
# One command name for every service image (the task definitions and compose need no other).
RUN uv sync --frozen --no-dev --no-editable --package "shopflow-${SERVICE}" \
 && ln -s "shopflow-${SERVICE}" /opt/venv/bin/shopflow-service

FROM base AS service
ARG SERVICE
COPY --from=service-build /opt/venv /opt/venv
# The scratch directory (DuckDB spill files, downloaded Parquet, the KPI state database),
# owned by the worker's user and declared a VOLUME: Fargate (like a fresh Docker named
# volume) then creates the task's scratch volume with this owner and mode instead of
# root:root 0755, which the worker could not write. The root filesystem stays read-only;
# TMPDIR points here so nothing needs /tmp.
RUN install -d -o 10001 -g 10001 -m 0700 /var/lib/shopflow
VOLUME ["/var/lib/shopflow"]
ENV SHOPFLOW_SERVICE=${SERVICE} \
    SHOPFLOW_WORK_DIR=/var/lib/shopflow \
    SHOPFLOW_HEALTH_FILE=/var/lib/shopflow/alive \
    TMPDIR=/var/lib/shopflow
USER 10001:10001
WORKDIR /var/lib/shopflow
# The worker touches its health file on every loop pass and every keep-alive of a running
# task; the same command is the ECS task definition's health check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["shopflow-healthcheck"]
# The worker stops cleanly on SIGTERM (ECS, docker stop): the task in hand is finished.
STOPSIGNAL SIGTERM
CMD ["shopflow-service"]
