# syntax=docker/dockerfile:1
# One image for the worker, the trainer, the lake bootstrap and the API: the same code and
# dependencies, a different command each (docker-compose.yml). Debian-based: the Temporal SDK's
# native bridge ships glibc builds only (no Alpine), and so do onnxruntime-node and DuckDB's.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- production dependencies only --------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# package.json's "allowScripts" denies onnxruntime-node's install script (on linux/x64 it
# downloads the CUDA provider from NuGet), but only npm >= 11 reads that field and this image
# ships npm 10. The package's own switch works with any npm, so no npm upgrade (and no second
# npm version to keep in step) is needed. SCARF_ANALYTICS=false: no install-time telemetry.
RUN ONNXRUNTIME_NODE_INSTALL=skip SCARF_ANALYTICS=false \
    npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ---------------------------------------------------------------------------
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production \
    MLOPS_STATE_DIR=/state
# The code version recorded in lineage: the image has no .git, so pass the commit at build
# time (empty: the package version is used).
ARG MLOPS_CODE_VERSION=
ENV MLOPS_CODE_VERSION=${MLOPS_CODE_VERSION}

COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
# Only what the processes run: no tests, benchmarks or the local launcher (bin/). The static
# test checks that nothing copied imports a folder left out.
COPY core ./core
COPY storage ./storage
COPY ml ./ml
COPY tasks ./tasks
COPY sql ./sql
COPY models ./models
COPY datasets ./datasets
COPY data ./data
COPY activities ./activities
COPY workflows ./workflows
COPY runs ./runs
COPY worker ./worker
COPY api ./api

# The code is root-owned and read-only to the process; the state volume is the node user's
# (a new named volume takes the owner of the image's folder it is mounted on). .tmp: where an
# in-memory DuckDB spills when a query outgrows memory (its default, relative to the cwd).
RUN mkdir -p /state /app/.tmp && chown node:node /state /app/.tmp
USER node
VOLUME ["/state"]

# No HEALTHCHECK here: the image runs four different processes; docker-compose.yml gives each
# its own (the API's /healthz, the workers' metrics endpoint).
# `node --import tsx` rather than `npx tsx`: one process, which receives SIGTERM itself and
# drains (no npm wrapper in between).
CMD ["node", "--import", "tsx", "worker/main.ts"]
