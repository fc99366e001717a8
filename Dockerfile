# syntax=docker/dockerfile:1
# lastgasp's image: the production build (hack/bundle.ts: esbuild bundles the command, the receive thread and
# every dependency into dist/), on Node 24. No TypeScript is stripped at run time and no node_modules are shipped.
# Built with Docker or BuildKit as is; without Docker, hack/image/build.sh builds it with Debian's buildah.

FROM node:24-bookworm-slim AS build
# The receive threads' batched-receive addon is C, built with Debian's gcc (hack/addon/build.sh).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# Every dependency (esbuild is a development one; node-api-headers, the addon's headers, too); no install script
# runs here: esbuild's binary comes in its platform's optional package, the base image has Node already, and the
# addon is built below, once its source is in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY operator ./operator
COPY hack/bundle.ts hack/bundle-options.ts ./hack/
COPY hack/addon ./hack/addon
RUN bash hack/addon/build.sh && node hack/bundle.ts /app/dist

FROM node:24-bookworm-slim
# The node agent reads routes and neighbours with `ip -j` (iproute2) and loads netconsole with modprobe (kmod).
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 kmod && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
# package.json: the version the command reports.
COPY package.json ./
COPY --from=build /app/dist ./dist
# The chart runs it with a read-only root filesystem, as this unprivileged user (the node agent as root: see
# docs/agent.md).
USER 65532:65532
EXPOSE 6666/udp 8080/tcp 8081/tcp
ENTRYPOINT ["node", "dist/lastgasp.js"]
CMD ["--help"]
