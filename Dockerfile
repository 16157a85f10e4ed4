# The course environment: JupyterLab, the course's Python dependencies (from uv.lock) and the docker CLI
# (with buildx and compose), from the course's own Python image. It drives the HOST's engine through the
# mounted socket, and imports `dockerlab` from the mounted course folder, never from a copy in the image.
# How to run it: docs/course-container.md (or compose.yaml). Build with BuildKit (cache mounts).
FROM python:3.13-slim-trixie
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /uvx /bin/

# The docker CLI, Buildx and Compose v2 (no engine: the host's is used), the versions learners run and
# scripts/install-engine installs: 28.5.2, 0.29.1, 2.40.3 from Debian testing ("forky"), pinned at a low priority so
# nothing else comes from it. Debian 13's own 26.1/0.13 do not know `docker build --progress=rawjson`, which every
# course build reads its steps from. A release file newer than the clock: apt is told not to mind.
RUN mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1) \
 && mirror=${mirror:-$(sed -n 's/^deb \([^ ]*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)} \
 && echo "deb ${mirror:-http://deb.debian.org/debian} forky main" > /etc/apt/sources.list.d/forky.list \
 && printf 'Package: *\nPin: release n=forky\nPin-Priority: 100\n' > /etc/apt/preferences.d/forky \
 && apt-get -o Acquire::Check-Valid-Until=false update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      docker-cli/forky docker-buildx/forky docker-compose/forky \
 && rm /etc/apt/sources.list.d/forky.list /etc/apt/preferences.d/forky \
 && rm -rf /var/lib/apt/lists/* \
 && docker --version && docker buildx version && docker compose version

ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 \
    JUPYTER_IP=0.0.0.0 JUPYTER_PORT=8888
WORKDIR /opt/course-env
# Only the dependencies: the `dockerlab` package itself comes from the mounted course folder at run time.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-install-project --no-editable

# `import dockerlab` resolves to $DOCKERLAB_ROOT/src in every Python process of the venv (kernels,
# `docker exec` shells too), through a .pth file; `dockerlab` on PATH runs that package's CLI.
RUN site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && printf '%s\n' "import os, sys; r = os.environ.get('DOCKERLAB_ROOT'); r and os.path.isdir(os.path.join(r, 'src', 'dockerlab')) and sys.path.insert(0, os.path.join(r, 'src'))" \
      > "$site/dockerlab_mounted_src.pth" \
 && printf '%s\n' '#!/opt/venv/bin/python' 'import sys' 'from dockerlab.commands import main' 'sys.exit(main())' > /opt/venv/bin/dockerlab \
 && chmod 755 /opt/venv/bin/dockerlab

# The entrypoint: DOCKERLAB_ROOT defaults to the working directory (the mounted course folder); a HOME that
# is writable for whatever uid runs the container (--user "$(id -u):$(id -g)"); JupyterLab by default.
COPY <<'SH' /usr/local/bin/course-entrypoint
#!/bin/sh
set -e
export DOCKERLAB_ROOT="${DOCKERLAB_ROOT:-$PWD}"
if [ ! -d "$DOCKERLAB_ROOT/src/dockerlab" ]; then
  echo "course-container: no course folder at DOCKERLAB_ROOT=$DOCKERLAB_ROOT (mount it with -v \"\$PWD:\$PWD\" -w \"\$PWD\" -e DOCKERLAB_ROOT=\"\$PWD\")" >&2
fi
# An empty JUPYTER_TOKEN would switch token auth off: unset, JupyterLab makes a random one and prints it.
if [ -z "${JUPYTER_TOKEN:-}" ]; then unset JUPYTER_TOKEN; fi
if [ ! -w "${HOME:-/nonexistent}" ]; then
  export HOME="/tmp/home-$(id -u)"; mkdir -p "$HOME"
fi
if [ ! -w /var/run/docker.sock ] && [ -S /var/run/docker.sock ]; then
  echo "course-container: /var/run/docker.sock is not writable for uid $(id -u): add --group-add \$(stat -c %g /var/run/docker.sock)" >&2
fi
if [ "$#" -eq 0 ]; then
  set -- jupyter lab --no-browser --ip="$JUPYTER_IP" --port="$JUPYTER_PORT" --ServerApp.root_dir="$DOCKERLAB_ROOT"
fi
exec "$@"
SH
RUN chmod 755 /usr/local/bin/course-entrypoint \
 && useradd --create-home --uid 1000 learner
USER learner
WORKDIR /home/learner
EXPOSE 8888
ENTRYPOINT ["/usr/local/bin/course-entrypoint"]
