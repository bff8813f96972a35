# syntax=docker/dockerfile:1
# One image for the worker, the trainer, the lake bootstrap and the API: the same code and
# dependencies, a different command each (docker-compose.yml). Debian-based: the Temporal SDK's
# native bridge ships glibc builds only (no Alpine), and so do onnxruntime-node and DuckDB's.
# Node 24 LTS (Node 20 reached its end of life on 2026-04-30), running the TypeScript compiled
# to JavaScript in a build stage: no tsx or compiler at run time.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- production dependencies only --------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# package.json's "allowScripts" denies onnxruntime-node's install script (on linux/x64 it
# downloads the CUDA provider from NuGet); npm 11 (Node 24) reads that field, and the package's
# own switch says the same to any npm. SCARF_ANALYTICS=false: no install-time telemetry.
RUN ONNXRUNTIME_NODE_INSTALL=skip SCARF_ANALYTICS=false \
    npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- compiled JavaScript ---------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN ONNXRUNTIME_NODE_INSTALL=skip SCARF_ANALYTICS=false \
    npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# Only what the processes run: no tests, benchmarks or the local launcher (bin/). The static
# test checks that nothing copied imports a folder left out.
COPY core ./core
COPY storage ./storage
COPY ml ./ml
COPY tasks ./tasks
COPY data ./data
COPY activities ./activities
COPY workflows ./workflows
COPY runs ./runs
COPY worker ./worker
COPY api ./api
RUN npx tsc -p tsconfig.build.json

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
COPY --from=build /app/dist ./dist
# package.json marks the project root (PROJECT_ROOT) and holds the version; specs and SQL are
# read at run time.
COPY package.json ./
COPY sql ./sql
COPY models ./models
COPY datasets ./datasets

# The code is root-owned and read-only to the process. /state: with MLOPS_STORE set (the
# production shape), only this container's cache of store objects; without it, the whole state
# (mount a volume there). .tmp: where an in-memory DuckDB spills when a query outgrows memory
# (its default, relative to the cwd).
RUN mkdir -p /state /app/.tmp && chown node:node /state /app/.tmp
USER node

# No HEALTHCHECK here: the image runs four different processes; docker-compose.yml gives each
# its own (the API's /healthz, the workers' metrics endpoint).
# `node` itself rather than `npm run`: one process, which receives SIGTERM itself and drains
# (no npm wrapper in between).
CMD ["node", "dist/worker/main.js"]
