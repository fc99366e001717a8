#!/usr/bin/env bash
# Makes sure the control-plane binaries used by tests, the demo and benchmarks exist, building any that are
# missing from the pinned wrapper modules beside this script, and prints one `NAME=/absolute/path` line each.
#
# Binaries are cached outside the repository, keyed by a hash of the wrapper's go.mod, go.sum and build flags,
# so a fresh clone (CI) reuses an earlier build and a version bump rebuilds. KUBEBUILDER_ASSETS (the envtest
# convention: a directory holding etcd, kube-apiserver, kube-controller-manager) overrides the build for the
# binaries it holds. Build progress goes to stderr; stdout carries only the NAME=path lines.
#
# Usage: hack/controlplane/ensure.sh [component ...]   components: kubernetes node etcd kwok helm lua promtool
# actionlint monitoring-crds (node: kubelet and kube-proxy, for the e2e tier) (default: the control plane, helm and node). lua is gopher-lua's glua, the Lua 5.1 Argo CD runs
# health checks with; promtool checks the chart's PrometheusRule; actionlint the release workflow; monitoring-crds are the Prometheus Operator's
# ServiceMonitor, PodMonitor and PrometheusRule CRDs (from its module, Apache-2.0), nothing built.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/lastgasp/controlplane"
mkdir -p "$cache_root"

log() { printf 'controlplane: %s\n' "$*" >&2; }

# module_version MODULE_DIR MODULE_PATH -> the pinned version of MODULE_PATH in that wrapper's go.mod
module_version() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

# Per-component facts: the binaries it provides (NAME:package) and its -ldflags.
component_binaries() {
  case "$1" in
    kubernetes)
      echo "KUBE_APISERVER:k8s.io/kubernetes/cmd/kube-apiserver KUBE_CONTROLLER_MANAGER:k8s.io/kubernetes/cmd/kube-controller-manager"
      echo "KUBE_SCHEDULER:k8s.io/kubernetes/cmd/kube-scheduler KUBECTL:k8s.io/kubernetes/cmd/kubectl" ;;
    node) echo "KUBELET:k8s.io/kubernetes/cmd/kubelet KUBE_PROXY:k8s.io/kubernetes/cmd/kube-proxy" ;;
    etcd) echo "ETCD:go.etcd.io/etcd/server/v3" ;;
    kwok) echo "KWOK:sigs.k8s.io/kwok/cmd/kwok" ;;
    helm) echo "HELM:helm.sh/helm/v3/cmd/helm" ;;
    lua) echo "GLUA:github.com/yuin/gopher-lua/cmd/glua" ;;
    promtool) echo "PROMTOOL:github.com/prometheus/prometheus/cmd/promtool" ;;
    actionlint) echo "ACTIONLINT:github.com/rhysd/actionlint/cmd/actionlint" ;;
  esac
}

component_ldflags() {
  local dir="$here/$1" v minor
  case "$1" in
    kubernetes | node)
      # Without these /version reports v0.0.0-master, which confuses kubectl and helm.
      v=$(module_version "$dir" k8s.io/kubernetes); minor=$(echo "$v" | cut -d. -f2)
      local flags="-s -w"
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
      done
      echo "$flags" ;;
    etcd | kwok | lua | promtool | actionlint) echo "-s -w" ;;
    helm)
      # helm's own Makefile sets these; without them `helm template` assumes Kubernetes 1.20.
      v=$(module_version "$dir" helm.sh/helm/v3)
      minor=$(awk '$1 == "k8s.io/client-go" { split($2, p, "."); print p[2] }' "$dir/go.mod")
      local flags="-s -w -X helm.sh/helm/v3/internal/version.version=$v"
      for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
        flags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
      done
      echo "$flags" ;;
  esac
}

cache_dir_for() {
  local key
  key=$( { cat "$here/$1/go.mod" "$here/$1/go.sum"; component_ldflags "$1"; } | sha256sum | cut -c1-12)
  echo "$cache_root/$1-$key"
}

build_component() {
  local component=$1 out=$2 ldflags tmp pair name pkg
  ldflags=$(component_ldflags "$component")
  tmp=$(mktemp -d "$cache_root/.build-$component.XXXXXX")
  log "building $component (first run only; this takes several minutes) into $out"
  for pair in $(component_binaries "$component"); do
    name=${pair%%:*}; pkg=${pair#*:}
    (cd "$here/$component" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$ldflags" \
      -o "$tmp/$(binary_file "$name")" "$pkg")
  done
  [[ $component != kwok ]] || copy_kwok_stages "$tmp"
  mv -T "$tmp" "$out" 2>/dev/null || rm -rf "$tmp" # another process finished first: keep theirs
  # Builds of older pins of this component are dead weight now.
  find "$cache_root" -maxdepth 1 -name "$component-*" ! -path "$out" -exec rm -rf {} +
}

# kwok simulates kubelets by applying Stage objects; its own "fast" set (nodes Ready with Leases renewed, pods
# Running, Job pods Succeeded, deleted pods removed) ships inside the module. Keep each stage as its own file
# so a test can leave one out.
copy_kwok_stages() {
  local src
  src=$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
  mkdir -p "$1/stages"
  cp "$src"/node/fast/node-initialize.yaml "$src"/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    "$src"/pod/fast/pod-ready.yaml "$src"/pod/fast/pod-complete.yaml "$src"/pod/fast/pod-delete.yaml "$1/stages/"
}

# NAME -> file name (KUBE_APISERVER -> kube-apiserver)
binary_file() { echo "$1" | tr 'A-Z_' 'a-z-'; }

ensure_component() {
  local component=$1 out pair name file
  out=$(cache_dir_for "$component")
  for pair in $(component_binaries "$component"); do
    name=${pair%%:*}; file=$(binary_file "$name")
    if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/$file" ]]; then
      echo "$name=$KUBEBUILDER_ASSETS/$file"
      continue
    fi
    if [[ ! -x "$out/$file" ]]; then
      exec 9>"$cache_root/.lock-$component"
      flock 9
      [[ -x "$out/$file" ]] || build_component "$component" "$out"
      flock -u 9
    fi
    echo "$name=$out/$file"
  done
  [[ $component != kwok ]] || echo "KWOK_STAGES=$out/stages"
}

# The Prometheus Operator's CRDs that the chart's monitors and rule are validated against.
MONITORING_MODULE=github.com/prometheus-operator/prometheus-operator
MONITORING_VERSION=v0.85.0

ensure_monitoring_crds() {
  local out="$cache_root/monitoring-crds-$MONITORING_VERSION" dir kind
  if [[ ! -s "$out/monitoring.coreos.com_prometheusrules.yaml" ]]; then
    log "fetching the Prometheus Operator's CRDs ($MONITORING_MODULE@$MONITORING_VERSION) into $out"
    dir=$(cd "$cache_root" && GOFLAGS=-mod=mod go mod download -json "$MONITORING_MODULE@$MONITORING_VERSION" |
      awk -F'"' '$2 == "Dir" { print $4 }')
    [[ -n "$dir" ]] || { log "could not download $MONITORING_MODULE@$MONITORING_VERSION"; exit 1; }
    mkdir -p "$out"
    for kind in servicemonitors podmonitors prometheusrules; do
      cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$out/"
    done
    cp "$dir/LICENSE" "$out/"
  fi
  echo "MONITORING_CRDS=$out"
}

components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(etcd kubernetes kwok helm node)
for c in "${components[@]}"; do
  case "$c" in
    etcd | kubernetes | node | kwok | helm | lua | promtool | actionlint | monitoring-crds) ;;
    *) log "unknown component '$c' (expected etcd, kubernetes, node, kwok, helm, lua, promtool, actionlint or monitoring-crds)"; exit 2 ;;
  esac
done
for c in "${components[@]}"; do
  if [[ $c == monitoring-crds ]]; then ensure_monitoring_crds; else ensure_component "$c"; fi
done
