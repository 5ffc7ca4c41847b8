# syntax=docker/dockerfile:1
# hwcloud-access-operator: `docker build -t hwcloud-access-operator:0.1.0 .`
# The base is pinned to an exact tag in both stages (no digest: builds here are offline); the
# venv made in the build stage is valid in the final one because both have the same Python.

# Build stage: the operator and its pinned dependencies (constraints.txt) in a venv.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
COPY pyproject.toml constraints.txt README.md ./
COPY operator ./operator
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt . \
 && /opt/venv/bin/python -m pip uninstall --yes pip setuptools

# Final stage: the venv only. No compiler, no pip, no package manager runs here; non-root;
# nothing is written to the root filesystem (run it read-only with an emptyDir on /tmp).
FROM python:3.11.11-slim-bookworm
LABEL org.opencontainers.image.title="hwcloud-access-operator" \
      org.opencontainers.image.description="Kubernetes operator for Huawei Cloud VPN and RocketMQ users" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN python -m pip uninstall --yes pip setuptools wheel \
 && groupadd --system --gid 65532 hwcloud \
 && useradd --system --uid 65532 --gid 65532 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin hwcloud
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
USER 65532:65532
# 8080: kopf's liveness endpoint (--liveness); 9090: Prometheus metrics (--metrics-port).
EXPOSE 8080 9090
ENTRYPOINT ["hwcloud-access", "run"]
CMD ["--all-namespaces"]
