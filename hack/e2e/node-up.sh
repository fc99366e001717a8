#!/usr/bin/env bash
# A real node for the real-node tier (test/e2e, `make test-e2e`): a kubelet and kube-proxy (built from the same
# Kubernetes module as the test control plane: hack/controlplane/ensure.sh node), Debian's containerd 1.6 and runc,
# the CNI bridge, and the images built here (hack/image/build.sh, and a pause image from pause.c) loaded into
# containerd without a registry. The tier runs it inside hack/in-netns.sh --node, so the bridge, the pods' routes
# and kube-proxy's rules live in that namespace and go with it.
#   [LASTGASP_NODE_IP=…] [LASTGASP_IMAGE="image …"] hack/e2e/node-up.sh KUBECONFIG [DIR]
#   then: hack/e2e/node-down.sh [DIR]
# What this VM needs, kept here and never in the product or the chart:
#   - cgroup v1 with a cgroup2 `unified` mount: the kubelet needs failCgroupV1: false and the cgroupfs driver;
#   - no CAP_SYS_RESOURCE: a negative oom_score_adj makes runc fail ("can't get final child's PID from pipe"), so
#     containerd runs runc through a wrapper that clamps it to 0;
#   - no registry: the pause image is built from pause.c, and images are imported with ctr;
#   - kube-proxy inside a network namespace: it leaves the host-wide conntrack table size alone.
set -euo pipefail
kubeconfig=${1:?usage: node-up.sh KUBECONFIG [DIR]}
dir=${2:-/tmp/lastgasp-node}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in containerd ctr runc buildah podman gcc; do
  command -v "$tool" >/dev/null || { echo "node-up.sh: $tool is missing (apt-get install containerd runc buildah podman gcc)" >&2; exit 1; }
done
[[ -x /usr/lib/cni/bridge ]] || { echo "node-up.sh: CNI plugins missing (apt-get install containernetworking-plugins)" >&2; exit 1; }
node_ip=${LASTGASP_NODE_IP:-$(ip -4 -o addr show scope global | awk '$2 != "lo" && $2 !~ /^(cni|lg|veth)/ { split($4, a, "/"); print a[1]; exit }')}
binaries=$(bash "$here/../controlplane/ensure.sh" node)
kubelet=$(sed -n 's/^KUBELET=//p' <<<"$binaries")
kube_proxy=$(sed -n 's/^KUBE_PROXY=//p' <<<"$binaries")
mkdir -p "$dir/cni/net.d" "$dir/containerd" "$dir/pause"
pause=localhost/pause:lastgasp-$(sha256sum "$here/pause.c" | cut -c1-12)
# The pods' network namespaces are named cni-…, like podman's: remember which exist, so node-down.sh removes ours.
ip netns list | awk '{print $1}' >"$dir/netns.before"

cat >"$dir/runc-wrapper" <<'WRAPPER'
#!/bin/sh
# This VM grants no CAP_SYS_RESOURCE: clamp a negative oom_score_adj in the bundle's OCI spec to 0.
for a in "$@"; do prev=$cur; cur=$a; if [ "$prev" = "--bundle" ] || [ "$prev" = "-b" ]; then bundle=$a; fi; done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  sed -i 's/"oomScoreAdj":-[0-9]*/"oomScoreAdj":0/' "$bundle/config.json"
fi
exec runc "$@"
WRAPPER
chmod +x "$dir/runc-wrapper"

cat >"$dir/containerd/config.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$dir/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$dir/runc-wrapper"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
TOML

cat >"$dir/cni/net.d/10-lastgasp.conflist" <<'CNI'
{ "cniVersion": "0.4.0", "name": "lastgasp-e2e", "plugins": [
  { "type": "bridge", "bridge": "lge2e0", "isGateway": true, "ipMasq": true,
    "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.244.0.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
  { "type": "portmap", "capabilities": { "portMappings": true } },
  { "type": "loopback" } ] }
CNI

cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://$dir/containerd/containerd.sock
podLogsDir: $dir/pod-logs
authentication: { anonymous: { enabled: false }, webhook: { enabled: true } }
authorization: { mode: Webhook }
port: 10350
readOnlyPort: 0
healthzPort: 10348
failSwapOn: false
imageGCHighThresholdPercent: 100
evictionHard: { "memory.available": "1Mi" }
YAML

# The pause image, built once per version of pause.c (its tag names the source), then containerd and the images.
if ! buildah inspect --type image "$pause" >/dev/null 2>&1; then
  gcc -static -O2 -o "$dir/pause/pause" "$here/pause.c"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$dir/pause/Containerfile"
  buildah bud --quiet --runtime runc --isolation chroot -t "$pause" "$dir/pause" >/dev/null
fi
containerd --config "$dir/containerd/config.toml" >"$dir/containerd.log" 2>&1 &
echo $! >"$dir/containerd.pid"
for _ in $(seq 50); do [[ -S $dir/containerd/containerd.sock ]] && break; sleep 0.2; done
[[ -S $dir/containerd/containerd.sock ]] || { echo "node-up.sh: containerd did not start; see $dir/containerd.log" >&2; exit 1; }
for image in "$pause" ${LASTGASP_IMAGE:-localhost/lastgasp:dev}; do
  rm -f "$dir/image.tar"
  podman save -o "$dir/image.tar" "$image" >/dev/null
  ctr --address "$dir/containerd/containerd.sock" -n k8s.io images import "$dir/image.tar" >/dev/null
done
rm -f "$dir/image.tar"
"$kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$kubeconfig" --root-dir "$dir/kubelet" \
  --node-ip "$node_ip" --hostname-override lastgasp-e2e >"$dir/kubelet.log" 2>&1 &
echo $! >"$dir/kubelet.pid"
# kube-proxy: pods reach the API server through the `kubernetes` Service, and the nodes a LoadBalancer's address.
"$kube_proxy" --kubeconfig "$kubeconfig" --hostname-override lastgasp-e2e --cluster-cidr 10.244.0.0/16 \
  --proxy-mode iptables --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 \
  --conntrack-tcp-timeout-close-wait 0 --metrics-bind-address 127.0.0.1:10349 \
  --healthz-bind-address 127.0.0.1:10356 >"$dir/kube-proxy.log" 2>&1 &
echo $! >"$dir/kube-proxy.pid"
echo "node-up.sh: kubelet (Node lastgasp-e2e, $node_ip), kube-proxy and containerd started; logs in $dir"
