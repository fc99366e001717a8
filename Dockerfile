# syntax=docker/dockerfile:1
# lastgasp's image: Node 24 runs the TypeScript sources directly (type stripping), so there is no build stage
# beyond installing production dependencies. Not built on the project's CI machines (no container engine there).

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; none of them needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
# The node agent reads routes and neighbours with `ip -j` (iproute2) and loads netconsole with modprobe (kmod).
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 kmod && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY operator ./operator
# The chart runs it with a read-only root filesystem, as this unprivileged user (the node agent as root: see
# docs/agent.md).
USER 65532:65532
EXPOSE 6666/udp 8080/tcp 8081/tcp
ENTRYPOINT ["node", "bin/lastgasp.ts"]
CMD ["--help"]
