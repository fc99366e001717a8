#!/usr/bin/env bash
# Builds the receive threads' batched-receive addon (operator/receiver/thread/native/batch_recv.c) with the
# system's C compiler against Node-API's headers from the npm registry (node-api-headers): Node-API is
# ABI-stable, so one build serves every Node version that has it. npm ci runs this (package.json "install").
# Where no compiler is found the receiver runs on Node's dgram instead and says so; this script then only warns.
#   bash hack/addon/build.sh [outdir]          (default build/)
#   bash hack/addon/build.sh --asan outdir     with AddressSanitizer (make test-native: the fuzz test under it)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
flags=(-O2)
if [[ ${1:-} == --asan ]]; then
  flags=(-O1 -fsanitize=address -fno-omit-frame-pointer)
  shift
fi
out=${1:-$root/build}
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null; then
  echo "lastgasp: no C compiler ($cc): receive threads will use Node's dgram (install gcc for batched receive)" >&2
  exit 0
fi
mkdir -p "$out"
"$cc" -std=gnu11 "${flags[@]}" -g -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden \
  -I "$root/node_modules/node-api-headers/include" -DNAPI_VERSION=8 \
  -o "$out/batch_recv.node.tmp" "$root/operator/receiver/thread/native/batch_recv.c"
mv "$out/batch_recv.node.tmp" "$out/batch_recv.node"
echo "lastgasp: built $out/batch_recv.node"
