# One image for the worker and the API. Debian-based: the Temporal SDK's native bridge ships
# glibc builds only (no Alpine).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY core ./core
COPY ml ./ml
COPY sql ./sql
COPY models ./models
COPY data ./data
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY api ./api
COPY bin ./bin
ENV MLOPS_STATE_DIR=/state
VOLUME ["/state"]
CMD ["npx", "tsx", "worker/main.ts"]
