# The taskfleet supervisor: the HTTP API (port 8080) and the background loops.
#
#   docker build -f infra/docker/supervisor.Dockerfile -t taskfleet-supervisor .      (from the repository root)
#   az acr build -r <registry> -f infra/docker/supervisor.Dockerfile -t taskfleet-supervisor:<tag> .
#
# Two stages. `build` installs and compiles exactly as .ci/run does (`npm ci`, whose `prepare` runs
# `npm run build`), then drops the devDependencies. `runtime` holds only what runs: dist/, bin/, the production
# node_modules, package.json and sql/migrations (read by `taskfleet db deploy`), owned by root and run as an
# unprivileged user. The build stage is the same in worker.Dockerfile
# (test/repo/deploymentImages.test.ts checks it).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: the same npm ci + build as .ci/run
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source when no prebuilt binary can be downloaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json tsconfig.client.json ./
COPY bin ./bin
COPY src ./src
COPY workers ./workers
COPY sql ./sql
RUN npm ci --no-audit --no-fund
RUN npm prune --omit=dev --no-audit --no-fund

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
# tini runs as PID 1: it forwards SIGTERM to node and reaps zombies. Node as PID 1 would ignore a SIGTERM that
# arrives before the process has installed its handlers (while it is still connecting to SQL and Redis).
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/sql ./sql
COPY infra/docker/healthcheck.js ./healthcheck.js
# The only writable place, for the embedded SQLite store of a quick `docker run` (production uses mssql).
RUN mkdir -p /app/data && chown 1000:1000 /app/data
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# GET /healthz on TASKFLEET_PORT (liveness only: /readyz also needs SQL and Redis, which a restart cannot fix).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/healthcheck.js", "supervisor"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/taskfleet.js"]
CMD ["supervisor"]
