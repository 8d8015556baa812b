# modeguard: admission webhook and CLI keeping Grafana Agent / Alloy right for
# their deployment mode. `make help` lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN        := $(CURDIR)/bin
K8S_BIN    := $(BIN)/k8s
GO         ?= go
GOTEST     ?= $(GO) test
FUZZTIME   ?= 10s
STATICCHECK_VERSION ?= v0.8.2
ACTIONLINT_VERSION ?= v1.7.12
# Stamped into both binaries (internal/version) and the image's labels.
# Recursive (=): git runs only for the targets that use them.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The image's timestamps: the commit's time, so a rebuild of a commit is
# byte-identical.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
VERSION_LDFLAGS = -X github.com/modeguard/modeguard/internal/version.Version=$(VERSION) \
	-X github.com/modeguard/modeguard/internal/version.Commit=$(COMMIT)
# make bench builds without DWARF (no debugger reads it there; profiles do not
# need it), and like hack/k8s/build.sh (-trimpath, CGO_ENABLED=0), so that
# both compile the standard library once between them on a fresh machine.
BENCH_GOFLAGS ?= -trimpath -gcflags=all=-dwarf=false
# envtest finds kube-apiserver, etcd and kubectl here, test/e2e also
# kube-controller-manager and cert-manager (built by k8s-bins).
export KUBEBUILDER_ASSETS := $(K8S_BIN)

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } \
		/^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build the modeguard CLI and webhook into bin/.
	$(GO) build ./...
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/modeguard ./cmd/modeguard
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/modeguard-webhook ./cmd/webhook

.PHONY: image
image: ## Build the webhook's image (linux/amd64+arm64, static, non-root, no shell) as an OCI layout in bin/image, without a container engine.
	cd hack/image && GOWORK=off $(GO) run . -repo $(CURDIR) -out $(BIN)/image \
		-version $(VERSION) -commit $(COMMIT) -created $(SOURCE_DATE_EPOCH)

.PHONY: monitoring
monitoring: ## Regenerate the Grafana dashboard and the alert rules under deploy/monitoring (and the chart's copies).
	cd hack/monitoring && GOWORK=off $(GO) run . -out $(CURDIR)/deploy/monitoring -chart $(CURDIR)/deploy/helm/modeguard/files

.PHONY: k8s-bins
k8s-bins: ## Build kube-apiserver, etcd, kubectl, kube-controller-manager and cert-manager's controller and cainjector from Go modules into bin/k8s (skipped when current).
	@hack/k8s/build.sh $(K8S_BIN)

##@ Test

.PHONY: test
test: k8s-bins helm-template ## Run every test: unit, golden, Rego, fuzz (briefly), against a real kube-apiserver, and make reliability's short form.
	$(GOTEST) -count=1 $$($(GO) list ./... | grep -v /test/reliability)
	@# The tool modules' tests: the image (both platforms built twice), the
	@# dashboard's and the alerts' PromQL.
	cd hack/image && GOWORK=off $(GOTEST) -count=1 ./...
	cd hack/monitoring && GOWORK=off $(GOTEST) -count=1 ./...
	@# Prometheus' Kubernetes discovery run against a real API server for every
	@# discovery.kubernetes block of the examples: the scope riverconfig gives
	@# each must match the targets each node's agent gets (prints a summary).
	cd test/discovery && GOWORK=off $(GOTEST) -count=1
	@# The corpus through a real API server: dry runs of new installs (skips without a corpus).
	MODEGUARD_CORPUS=$(MODEGUARD_CORPUS) $(GOTEST) -count=1 -run 'TestDryRunBundlesCorpus' ./test/e2e
	@# Alone: its scenarios hold answers to the webhook's 3 s timeout.
	$(GOTEST) -count=1 -timeout 15m ./test/reliability
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh
	@$(MAKE) --no-print-directory corpus

.PHONY: test-short
test-short: ## Run the unit and golden tests only (no control plane, no fuzzing).
	$(GOTEST) -short ./...

# The real-world corpus (Grafana's chart renders and community manifests, with
# what a correct tool reports for each) is third-party material kept outside
# this repository: a directory shared/corpus beside it, or MODEGUARD_CORPUS.
MODEGUARD_CORPUS ?= $(wildcard $(dir $(CURDIR))shared/corpus)

.PHONY: corpus
corpus: ## Check every case of the real-world corpus against its expect.tsv (skips when there is none).
	MODEGUARD_CORPUS=$(MODEGUARD_CORPUS) $(GOTEST) -count=1 -run 'TestCorpus$$|TestFixIffReported|TestPositionsPointAtTheComponent' -v ./cmd/modeguard | grep -E '^(ok|FAIL|PASS)|--- FAIL|corpus: |_test.go:[0-9]+: [^0-9]'
	@# Every case decides as recorded in review/testdata/equivalence/corpus.txt.
	MODEGUARD_CORPUS=$(MODEGUARD_CORPUS) $(GOTEST) -count=1 -run 'TestGoldenDecisionsCorpus' ./review

# The packages with a Test…Golden function. Their tests take -update from
# internal/testutil; a package without that flag fails loudly here.
GOLDEN_PKGS = $(shell grep -lE '^func Test[A-Za-z0-9_]*Golden' \
	$$($(GO) list -f '{{$$d := .Dir}}{{range .TestGoFiles}}{{$$d}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$$d}}/{{.}} {{end}}' ./...) \
	| xargs -n1 dirname | sort -u)

.PHONY: update-golden
update-golden: ## Rewrite golden testdata from the current code (review the diff!).
	$(GOTEST) -run Golden $(GOLDEN_PKGS) -update

.PHONY: docs
docs: ## Regenerate docs/rules.md and docs/input.schema.json from the policy.
	$(GOTEST) ./policy -run 'TestRulesDoc|TestInputSchemaDoc' -update

.PHONY: lint
lint: $(BIN)/staticcheck $(BIN)/actionlint ## go vet, gofmt check, staticcheck and actionlint (.github/workflows).
	$(GO) vet ./...
	cd hack/image && GOWORK=off $(GO) vet ./...
	cd hack/monitoring && GOWORK=off $(GO) vet ./...
	cd test/discovery && GOWORK=off $(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(BIN)/staticcheck ./...
	$(BIN)/actionlint -shellcheck= -pyflakes= .github/workflows/*.yaml

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Built into bin/ (like staticcheck) rather than added to go.mod as a tool:
# its dependencies would move the module's own.
$(BIN)/actionlint:
	GOBIN=$(BIN) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

.PHONY: bench
bench: ## Benchmarks in process and over HTTPS (vs a null webhook and OPA's server); writes docs/benchmarks.md and its plot.
	@# Builds the control plane (bin/k8s, or a quick one), webhook, OPA and benchstat at once, then measures.
	@export CGO_ENABLED=0 GOFLAGS="$${GOFLAGS:+$$GOFLAGS }$(BENCH_GOFLAGS)"; start=$$(date +%s); hack/bench/prepare.sh $(BIN); \
		set -x; $(BIN)/modeguard-bench -benchstat=$(BIN)/benchstat -opa=$(BIN)/opa -k8s=$$(cat $(BIN)/bench-k8s-dir) \
			-build-took=$$(( $$(date +%s) - start ))s $(BENCH_FLAGS)

.PHONY: reliability
reliability: k8s-bins build ## Load, soak, faults and hostile input against the webhook through a real kube-apiserver; writes docs/reliability.md (~20 min; make test runs a short form).
	$(GO) run ./hack/reliability $(RELIABILITY_FLAGS)

##@ Run

.PHONY: demo
demo: k8s-bins build ## The main job: a local control plane, the webhook installed, every example applied and explained (ONCE=1: exit after, non-zero on surprises).
	$(GO) run ./hack/demo $(if $(ONCE),--once) $(if $(ONLY),--only=$(ONLY))

.PHONY: clean
clean: ## Remove built binaries (keeps bin/k8s, which is slow to build).
	rm -rf $(BIN)/modeguard $(BIN)/modeguard-webhook $(BIN)/staticcheck $(BIN)/actionlint $(BIN)/image $(BIN)/image.digest

##@ Deploy

# kubectl for deploy/undeploy: the one make k8s-bins built, else the PATH's.
KUBECTL ?= $(or $(wildcard $(K8S_BIN)/kubectl),kubectl)
# The kustomize overlay deploy/undeploy use: self-signed, cert-manager or fail-closed.
DEPLOY_OVERLAY ?= self-signed

.PHONY: deploy
deploy: ## Install modeguard into the current kubeconfig's cluster (DEPLOY_OVERLAY=self-signed|cert-manager|fail-closed).
	$(KUBECTL) apply -k deploy/kustomize/overlays/$(DEPLOY_OVERLAY)

.PHONY: undeploy
undeploy: ## Remove what make deploy installed (the namespace too).
	$(KUBECTL) delete -k deploy/kustomize/overlays/$(DEPLOY_OVERLAY) --ignore-not-found

.PHONY: helm-template
helm-template: ## Build bin/helm-template, an offline `helm template` for deploy/helm (skipped when current).
	@hack/helm/build.sh $(BIN)
