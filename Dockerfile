# Moorage's own image: `moorage serve` and `moorage worker` (deploy/compose.yaml).
# Built on the same Debian base as the workspace images, made locally by mmdebstrap
# (images/base/bootstrap.sh), so no registry is needed:
#   bash deploy/build.sh        (or `make deploy`, which also starts the stack)
# Python packages come from uv.lock (uv sync --frozen, no dev group); the UI's browser
# libraries must have been copied into src/moorage/web/static/vendor first
# (scripts/build-static.sh, which deploy/build.sh runs).
# The dependencies' layer is rebuilt only when uv.lock changes.
ARG BASE=moorage/base:bookworm
FROM ${BASE}

LABEL org.opencontainers.image.title="moorage" \
      org.opencontainers.image.description="Moorage server and reconciler worker"

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    UV_PYTHON=/usr/bin/python3 UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy UV_NO_CACHE=1 \
    PATH=/opt/moorage/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    MOORAGE_DATA_DIR=/var/lib/moorage

# python3 (bookworm's 3.11) runs Moorage; sshpass and the OpenSSH client serve Ansible's
# logins to pool machines; the PostgreSQL and MariaDB clients serve `moorage backup`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip ca-certificates tini \
      openssh-client sshpass postgresql-client mariadb-client \
 && rm -rf /var/lib/apt/lists/*

# deploy/build-ca/ may hold a CA bundle (build-ca.crt) for builds behind a
# TLS-inspecting proxy; it is used for the downloads below only.
COPY deploy/build-ca/ /tmp/build-ca/
RUN if [ -f /tmp/build-ca/build-ca.crt ]; then \
      export SSL_CERT_FILE=/tmp/build-ca/build-ca.crt PIP_CERT=/tmp/build-ca/build-ca.crt; fi \
 && pip3 install --no-cache-dir --break-system-packages --root-user-action=ignore uv==0.13.* \
 && useradd --system --home-dir /var/lib/moorage --shell /usr/sbin/nologin moorage \
 && mkdir -p /var/lib/moorage && chown moorage:moorage /var/lib/moorage

WORKDIR /opt/moorage
# Dependencies first (their own layer, rebuilt only when the lock file changes).
COPY pyproject.toml uv.lock ./
RUN if [ -f /tmp/build-ca/build-ca.crt ]; then export SSL_CERT_FILE=/tmp/build-ca/build-ca.crt; fi \
 && uv sync --frozen --no-dev --no-install-project --compile-bytecode && rm -rf /tmp/build-ca
COPY deploy/playbooks ./deploy/playbooks
COPY src ./src
# Moorage itself runs from src/ (on the path through a .pth file, as an editable
# install would), so a change of its sources rebuilds this layer only, offline. The
# launcher keeps the __main__ guard: `serve --workers` spawns processes that import it.
RUN echo /opt/moorage/src > .venv/lib/python3.11/site-packages/moorage-src.pth \
 && printf '#!/opt/moorage/.venv/bin/python\nfrom moorage.cli import main\n\nif __name__ == "__main__":\n    main()\n' \
      > .venv/bin/moorage && chmod 755 .venv/bin/moorage \
 && python3 -m compileall -q src && moorage --help >/dev/null

USER moorage
VOLUME /var/lib/moorage
EXPOSE 8000
ENTRYPOINT ["tini", "--"]
CMD ["moorage", "serve", "--host", "0.0.0.0", "--port", "8000"]
