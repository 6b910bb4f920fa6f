# A taskfleet worker: registers as an agent, runs the tasks it is capable of, drains on SIGTERM. No port.
#
#   docker build -f infra/docker/worker.Dockerfile -t taskfleet-worker .      (from the repository root)
#   docker run taskfleet-worker worker --capabilities fs --concurrency 8
#   az acr build -r <registry> -f infra/docker/worker.Dockerfile -t taskfleet-worker:<tag> .
#
# Extend this image for handlers that need system packages (an `apt-get install` in the runtime stage) and
# pass their modules with `--handlers`.
#
# Two stages. `build` installs and compiles exactly as .ci/run does (`npm ci`, whose `prepare` runs
# `npm run build`), then drops the devDependencies. `runtime` holds only what runs: dist/, bin/, the production
# node_modules, package.json and sql/migrations (read by `taskfleet db deploy`), owned by root and run as an
# unprivileged user. The build stage is the same in supervisor.Dockerfile
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
# tini runs as PID 1: it forwards SIGTERM to node (which then drains: running tasks get
# TASKFLEET_DRAIN_TIMEOUT_MS, 25 s by default, to finish before they are handed back) and reaps zombies left by
# handlers that start child processes.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
# A smaller young generation: an idle worker holds about 74 MiB rather than 84 (see src/cli/workerProcess.ts).
ENV NODE_OPTIONS=--max-semi-space-size=2
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/sql ./sql
COPY infra/docker/healthcheck.js ./healthcheck.js
RUN mkdir -p /app/data && chown 1000:1000 /app/data
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# A worker has no port. Liveness here is the process: the worker runs and is not stopped. A worker that is
# alive but stuck stops heartbeating; the supervisor then suspends it and takes its leases back (see README,
# Fleet management), which is the check that matters for tasks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.js", "worker"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/taskfleet.js"]
CMD ["worker", "--concurrency", "4"]
