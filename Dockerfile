# The dailies image: one image for the API, the edge, the workers and every flow run (the
# docker and kubernetes GPU pools start it per preview with `prefect flow-run execute`).
# Build: `docker compose build`, or `prefect deploy` through prefect.containers.yaml.
#
# Debian's ffmpeg is built with NVENC (h264_nvenc) and loads the driver's libnvidia-encode at
# run time: the NVIDIA container runtime mounts it when NVIDIA_DRIVER_CAPABILITIES includes
# `video` (the GPU pools set compute,video,utility). Without a GPU the same image encodes with
# libx264. Bookworm is also what the tests run on, so the image runs the ffmpeg they pass with.
FROM python:3.11-slim-bookworm

ARG UV_VERSION=0.13.9
# tini reaps the ffmpeg children of a flow run and forwards SIGTERM (a cancelled run, an
# evicted pod) to the whole process group.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg nginx-light libnginx-mod-http-js tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && pip install --no-cache-dir "uv==${UV_VERSION}" \
 && useradd --create-home --uid 10001 dailies \
 && mkdir -p /var/lib/dailies /scratch \
 && chown dailies:dailies /var/lib/dailies /scratch

WORKDIR /opt/dailies
# No BuildKit cache mounts: prefect-docker's build step uses the classic builder (docker-py).
ENV UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/dailies/.venv

# Dependencies first (from uv.lock, exactly), so a code change does not reinstall them. The
# `workers` group is prefect-docker + prefect-kubernetes: the same image runs those workers.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --group workers --no-install-project

COPY . .
RUN uv sync --frozen --no-dev --group workers \
 && { [ -f edge/player/vendor/hls.min.js ] || bash scripts/vendor-hlsjs.sh; }

# The code is read-only for the runtime user; state and scratch live outside it.
ENV PATH=/opt/dailies/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAILIES_HOME=/var/lib/dailies \
    PREFECT_HOME=/var/lib/dailies/prefect
USER dailies

# A flow that cannot import fails the build, not the first flow run on a GPU node; so does
# the `dailies` command (ops.cli: compose's bootstrap and edge services run it)
# (tests/test_containers.py runs this same line against the checkout).
RUN python -c "import flows.preview, flows.promote, flows.audit, tasks.first_rendition, api.app, ops.cli"

# Workers pass the command: the docker worker as the container's command, the kubernetes
# worker as the container's args (after this entrypoint); both `prefect flow-run execute`.
ENTRYPOINT ["tini", "-g", "--"]
CMD ["prefect", "flow-run", "execute"]
