# syntax=docker/dockerfile:1
# MoleTok: one image for every service. SERVICES=<name> selects what a container runs (the
# Helm chart starts one Deployment per service); unset, every service runs in one process
# (embedded mode, data under /app/data):
#
#   docker build -t moletok:0.1.0 .
#   docker run --rm -p 8080:8080 moletok:0.1.0
#
# test/servers/deploy.test.ts replays this file's COPY and RUN steps without Docker and
# starts the CMD, so keep to the instructions it understands (it fails on any other).

# Debian 13 "trixie": its ffmpeg is 7.1 (Debian 12's is 5.1).
ARG NODE_IMAGE=node:24-trixie-slim

# --- build: TypeScript to dist/, the web client and the API reference to dist/web -----------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci`: exactly the locked tree (every platform's optional binaries are in the lock),
# failing on a lock that disagrees with package.json (scripts/env.sh does the same).
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json moleculer.config.ts ./
COPY lib ./lib
COPY types ./types
COPY mixins ./mixins
COPY services ./services
# The web client (Vite, web/) and the OpenAPI document it serves at /openapi.json.
COPY web ./web
COPY docs/openapi.json ./docs/
RUN npx tsc -p tsconfig.build.json && npm run build:web

# --- runtime ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# Debian's ffmpeg and ffprobe (7.1 on trixie, kept current by Debian's security updates): the
# transcoder uses the ones on PATH. util-linux (setpriv, which ties ffmpeg's life to its
# worker's) is part of every Debian image.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ffmpeg \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /app
# moleculer-runner resolves SERVICES=<name> in SERVICEDIR (not in its path argument); with
# SERVICES unset it loads every service of SERVICEDIR.
ENV NODE_ENV=production SERVICEDIR=dist/services
COPY package.json package-lock.json ./
# Production dependencies only, exactly the locked tree.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
# Read at run time from the root's config/ (SENSITIVE_WORDS_FILE).
COPY config ./config
# Embedded mode writes its store, JWT secret and media under ./data.
RUN mkdir -p data && chown 1000:1000 data
# The image's `node` user, numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# API (api only), /live + /ready, Prometheus /metrics.
EXPOSE 8080 3001 3030
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_PORT || 3001) + '/live').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 (exec form: no npm, no shell), so SIGTERM reaches moleculer-runner, which
# stops the broker gracefully (readiness fails first, then requests drain).
CMD ["node", "node_modules/moleculer/bin/moleculer-runner.js", "--config", "dist/moleculer.config.js", "dist/services"]
