#!/usr/bin/env bash
# Stops what node-up.sh started and removes what it left: containers, the CNI bridge and its NAT rules.
set -uo pipefail
dir=${1:-/tmp/lastgasp-node}
pids=()
for pidfile in "$dir/kube-proxy.pid" "$dir/kubelet.pid" "$dir/containerd.pid"; do
  [[ -f $pidfile ]] && pids+=("$(cat "$pidfile")")
done
((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null
# Each gets 10 s to exit, then SIGKILL.
for _ in $(seq 100); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 0.1; done
((${#pids[@]} == 0)) || kill -9 "${pids[@]}" 2>/dev/null
pkill -f "containerd-shim-runc-v2 -namespace k8s.io" 2>/dev/null
for c in $(runc --root /run/containerd/runc/k8s.io list -q 2>/dev/null); do runc --root /run/containerd/runc/k8s.io delete --force "$c"; done
# The pods' network namespaces: the cni-… ones node-up.sh did not find.
for ns in $(ip netns list | awk '$1 ~ /^cni-/ {print $1}'); do
  grep -qx "$ns" "$dir/netns.before" 2>/dev/null || ip netns del "$ns"
done
ip link del lge2e0 2>/dev/null
# The bridge plugin's masquerade rules for this network's pods (10.244.0.0/24) only: podman's own CNI chains stay.
while true; do
  line=$(iptables -t nat -L POSTROUTING --line-numbers -n 2>/dev/null | awk '$2 ~ /^CNI-/ && $5 ~ /^10\.244\.0\./ { print $1 " " $2; exit }')
  [[ -n $line ]] || break
  iptables -t nat -D POSTROUTING "${line%% *}"
  iptables -t nat -F "${line#* }" && iptables -t nat -X "${line#* }"
done
# Every mount the kubelet and containerd left under $dir (rootfs overlays, shm, volumes), deepest first.
findmnt -rn -o TARGET | grep "^$dir/" | sort -r | while read -r target; do umount -l "$target"; done
rm -rf "$dir"
echo "node-down.sh: stopped and removed $dir"
