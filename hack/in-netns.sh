#!/usr/bin/env bash
# Runs a command inside a network namespace made for it, holding a tap device for QEMU guests: the real-kernel
# tier's guests get addresses of their own (10.203.0.0/24) as the receiver sees them, and nothing they send can
# leave the namespace. The control plane, lastgasp and the guests all run inside (the namespace's own loopback);
# the namespace and its tap are removed when the command ends.
#
# Usage: hack/in-netns.sh COMMAND [ARG...]   (root: creating namespaces and taps needs CAP_NET_ADMIN)
set -euo pipefail
ns="lgk-$$"
tap="lgtap0"
die() { echo "in-netns: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "the real-kernel tier needs root (network namespaces and a tap device); run it as root"
command -v ip >/dev/null || die "iproute2's ip is needed: apt-get install iproute2"
[[ -c /dev/net/tun ]] || die "/dev/net/tun is missing: the kernel's tun module is needed for the guests' tap device"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip netns add "$ns" || die "cannot create a network namespace"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap
ip -n "$ns" addr add 10.203.0.1/24 dev "$tap"
ip -n "$ns" link set "$tap" up
ip netns exec "$ns" env LASTGASP_VM_TAP="$tap" LASTGASP_VM_HOST_IP=10.203.0.1 LASTGASP_VM_PREFIX=24 "$@"
