# syntax=docker/dockerfile:1
#
# codex-completions-api — production image (and a `dev` target with the fake Codex).
#
#   docker build -t codex-completions-api .                 # production (the last stage)
#   docker build --target dev -t codex-completions-api:dev .
#
# Stages: build (npm ci + tsc) → runtime (production dependencies, including the pinned Codex
# CLI with its native binary) → dev (runtime + the deterministic Codex shim) → production
# (= runtime; last so that a plain `docker build` gives the production image).

ARG NODE_VERSION=22

# ---------------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
RUN npm run build

# ---------------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini reaps the Codex processes' children and forwards signals; ca-certificates for Codex's
# own HTTPS calls (the slim image has none outside Node's bundled store).
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini ca-certificates \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=11435 \
    CODEX_HOME=/app/.codex-api \
    PROXY_CODEX_WORKDIR=/tmp/codex-work

# Production dependencies only. @openai/codex (pinned) is one of them: its platform package
# carries the native `codex` binary that the proxy runs directly.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY --from=build /app/dist ./dist
# The dashboard (/ui): its page, script and styles; the chart library comes from node_modules.
COPY ui ./ui
COPY scripts/launch.mjs scripts/launch-lib.mjs ./scripts/
# Seed files: the launcher copies them into CODEX_HOME when it has none (never overwrites).
COPY .codev/config.toml ./seed/

# CODEX_HOME is a mount point (./.codex-api on the host, owned by uid 1000 and writable); the
# directory here only matters when nothing is mounted.
RUN mkdir -p /app/.codex-api /tmp/codex-work \
  && chown node:node /app/.codex-api /tmp/codex-work

USER node
EXPOSE 11435

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||11435)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# -s: also reap as a subreaper when not PID 1 (compose `init: true` puts docker-init first).
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
CMD ["node", "scripts/launch.mjs"]

# ---------------------------------------------------------------------------------------------
# Development image: the same runtime plus the fake Codex executables (compose.dev.yaml).
FROM runtime AS dev
COPY --chown=node:node test/fixtures/codex-shim ./test/fixtures/codex-shim

# ---------------------------------------------------------------------------------------------
# Default target: the production image.
FROM runtime AS production
