# lastgasp — run `make help` for the list of targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NPM ?= npm
# npm runs scripts with node_modules/.bin first on PATH, so they use the pinned Node 24, not the system node.
NODE := node_modules/.bin/node
INSTALLED := node_modules/.installed

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Demo

.PHONY: demo
demo: deps controlplane ## Run the demo on a local control plane; everything stops on exit.
	$(NODE) hack/demo.ts

##@ Development

.PHONY: deps
deps: $(INSTALLED) ## Install npm dependencies (with Node 24, pinned through the npm registry).

$(INSTALLED): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

.PHONY: lint
lint: deps ## Type-check, lint (ESLint, type-aware), check formatting (Prettier) and the workflows (actionlint).
	$(NPM) run --silent typecheck
	$(NPM) run --silent lint
	$$(bash hack/controlplane/ensure.sh actionlint | cut -d= -f2) -no-color

.PHONY: format
format: deps ## Rewrite files with Prettier and apply ESLint's fixes.
	$(NPM) run --silent format

##@ Chart and image

HELM = $$(bash hack/controlplane/ensure.sh helm | cut -d= -f2)
IMAGE ?= ghcr.io/lastgasp/lastgasp:$$(node -p 'require("./package.json").version')

.PHONY: chart-sync
chart-sync: deps ## Copy crds/ into the chart and regenerate values.schema.json from the operator's settings.
	cp crds/*.yaml charts/lastgasp/crds/
	$(NODE) hack/chart-schema.ts
	node_modules/.bin/prettier --log-level warn --write charts/lastgasp/values.schema.json

.PHONY: chart-lint
chart-lint: controlplane ## Lint the Helm chart.
	$(HELM) lint charts/lastgasp

.PHONY: bundle
bundle: deps ## The production build the image runs: dist/ (esbuild; every dependency inlined).
	$(NODE) hack/bundle.ts

.PHONY: image
image: deps ## Build the image from the Dockerfile: with docker where it runs, else buildah (hack/image/build.sh).
	if docker info >/dev/null 2>&1; then docker build -t $(IMAGE) .; else PATH="$$PWD/node_modules/.bin:$$PATH" bash hack/image/build.sh $(IMAGE); fi

##@ Testing

.PHONY: test
test: deps controlplane ## Run every test: lint, unit, integration (real control plane), real kernels (QEMU guests), the image on a real kubelet.
	$(MAKE) --no-print-directory lint
	$(NPM) run --silent test:unit
	$(MAKE) --no-print-directory test-native
	$(NPM) run --silent test:integration
	$(NPM) run --silent test:kernel
	$(MAKE) --no-print-directory test-e2e

.PHONY: test-unit
test-unit: deps ## Run the unit tests (no cluster).
	$(NPM) run --silent test:unit

.PHONY: test-native
test-native: deps ## Fuzz the batched-receive addon under AddressSanitizer and LeakSanitizer (gcc's libasan).
	bash hack/addon/build.sh --asan build/asan
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$$PWD/hack/addon/lsan.supp LASTGASP_BATCH_ADDON=$$PWD/build/asan/batch_recv.node \
	  $(NODE) --test-reporter=spec test/unit/batch-recv.test.ts

.PHONY: test-integration
test-integration: deps controlplane ## Run the integration tests against a real kube-apiserver.
	$(NPM) run --silent test:integration

.PHONY: test-kernel
test-kernel: deps controlplane ## Run the real-kernel tier: Debian kernels panic in QEMU guests (root; qemu-system-x86).
	$(NPM) run --silent test:kernel

E2E_IMAGE := localhost/lastgasp:e2e

.PHONY: test-e2e
test-e2e: deps controlplane ## Build the image (make image) and run the real-node tier: the chart's pods on a real kubelet (root).
	PATH="$$PWD/node_modules/.bin:$$PATH" bash hack/image/build.sh $(E2E_IMAGE)
	LASTGASP_E2E_IMAGE=$(E2E_IMAGE) $(NPM) run --silent test:e2e

.PHONY: bench
bench: deps controlplane ## Run the benchmarks (ARGS="--quick" for the two-minute version); see docs/benchmarks.md.
	$(NPM) run --silent bench -- $(ARGS)

.PHONY: controlplane
controlplane: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl, kwok, helm, the kubelet and kube-proxy once (cached outside the repo).
	@bash hack/controlplane/ensure.sh >/dev/null

.PHONY: testenv-up
testenv-up: deps controlplane ## Start a control plane for manual use; kubeconfig in .testenv/kubeconfig.
	@$(NODE) hack/testenv.ts up

.PHONY: testenv-down
testenv-down: ## Stop the control plane started by testenv-up.
	@if [[ -x $(NODE) ]]; then $(NODE) hack/testenv.ts down; else echo "No test environment is running."; fi
