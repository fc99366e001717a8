#!/usr/bin/env bash
# Runs a command inside a network namespace made for it, holding a tap device for QEMU guests: the real-kernel
# tier's guests get addresses of their own (10.203.0.0/24) as the receiver sees them, and nothing they send can
# leave the namespace. The control plane, lastgasp and the guests all run inside (the namespace's own loopback);
# the namespace and its tap are removed when the command ends.
#
# With --node (the real-node tier, test/e2e) the command enters only the namespace's network (nsenter), not a mount
# namespace of its own as `ip netns exec` gives: a kubelet and runc need the host's /sys/fs/cgroup, which `ip netns
# exec` hides by remounting /sys. Forwarding is on, so the guests on the tap reach the pods' bridge.
#
# Usage: hack/in-netns.sh [--node] COMMAND [ARG...]   (root: creating namespaces and taps needs CAP_NET_ADMIN)
set -euo pipefail
node=false
if [[ ${1:-} == --node ]]; then node=true; shift; fi
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
env=(LASTGASP_VM_TAP="$tap" LASTGASP_VM_HOST_IP=10.203.0.1 LASTGASP_VM_PREFIX=24)
if $node; then
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  # The control plane's Service range (10.0.0.0/24) routes to the tap, as a node's default route would take it:
  # kube-proxy rewrites every Service address before a packet could leave, but a host-network pod's connect()
  # to a ClusterIP needs a route first.
  ip -n "$ns" route add 10.0.0.0/24 dev "$tap"
  nsenter --net="/run/netns/$ns" env "${env[@]}" "$@"
  exit
fi
ip netns exec "$ns" env "${env[@]}" "$@"
