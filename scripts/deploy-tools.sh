#!/usr/bin/env bash
# The tools of the deployment checks (test/servers/deploy.test.ts, scripts/render-k8s.sh),
# built from source with the Go toolchain (modules from the Go module proxy) and cached in
# $MOLETOK_CACHE/bin:
#   helm          Helm $HELM_VERSION (the same binary scripts/servers.sh installs)
#   k8s-validate  scripts/k8s-validate: strict, offline validation against the Kubernetes
#                 API types; rebuilt whenever its sources change
#
#   scripts/deploy-tools.sh install   build what is missing or stale (idempotent, quiet when cached)
#   scripts/deploy-tools.sh check     exit 1, saying what to run, when a tool is missing or stale
#   scripts/deploy-tools.sh env       print HELM=… K8S_VALIDATE=… KUBE_VERSION=… (for eval)
#
# KUBE_VERSION is the Kubernetes release the chart is rendered for and validated against: the
# minor of the k8s.io/api module scripts/k8s-validate pins.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MOLETOK_CACHE="${MOLETOK_CACHE:-$HOME/.cache/moletok}"
BIN="$MOLETOK_CACHE/bin"
HELM_VERSION=v3.16.4
KUBE_VERSION=1.31.0
VALIDATOR_SRC="$ROOT/scripts/k8s-validate"

log() { echo "deploy-tools: $*" >&2; }
die() { log "$*"; exit 1; }

go_cmd() {
	command -v go 2>/dev/null || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } ||
		die "Go is required to build $1 (looked in PATH and /usr/local/go/bin)"
}

# The version, and (when Go can tell) the Kubernetes default Helm's own release build sets.
helm_ok() {
	"$BIN/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION" || return 1
	local go
	go="$(command -v go || echo /usr/local/go/bin/go)"
	[ -x "$go" ] || return 0
	"$go" version -m "$BIN/helm" 2>/dev/null | grep -q 'chartutil.k8sVersionMinor=31'
}

# The validator's identity: a hash of its sources, stored beside the binary.
validator_hash() { cat "$VALIDATOR_SRC/go.mod" "$VALIDATOR_SRC/go.sum" "$VALIDATOR_SRC"/*.go | sha256sum | cut -d' ' -f1; }
validator_ok() { [ -x "$BIN/k8s-validate" ] && [ "$(cat "$BIN/k8s-validate.sha256" 2>/dev/null)" = "$(validator_hash)" ]; }

install_helm() {
	helm_ok && return
	log "building Helm $HELM_VERSION into $BIN"
	# The k8sVersion flags are the ones Helm's own Makefile sets (Kubernetes 1.31 for this
	# release); without them `helm template` would assume Kubernetes 1.20.
	GOBIN="$BIN" GOTOOLCHAIN=local "$(go_cmd Helm)" install -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=31
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=31" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
}

install_validator() {
	validator_ok && return
	log "building k8s-validate into $BIN"
	(cd "$VALIDATOR_SRC" && GOFLAGS=-mod=readonly GOTOOLCHAIN=local "$(go_cmd k8s-validate)" build -trimpath -o "$BIN/k8s-validate.new" .) >&2
	mv "$BIN/k8s-validate.new" "$BIN/k8s-validate"
	validator_hash >"$BIN/k8s-validate.sha256"
}

case "${1:-}" in
install)
	mkdir -p "$BIN"
	install_helm
	install_validator
	;;
check)
	problems=()
	helm_ok || problems+=("Helm $HELM_VERSION (with its release build's Kubernetes defaults) is missing from $BIN or stale")
	validator_ok || problems+=("k8s-validate in $BIN is missing or older than scripts/k8s-validate")
	if [ ${#problems[@]} -gt 0 ]; then
		printf 'deploy-tools: %s\n' "${problems[@]}" >&2
		die "run: bash scripts/deploy-tools.sh install"
	fi
	;;
env) echo "HELM=$BIN/helm K8S_VALIDATE=$BIN/k8s-validate KUBE_VERSION=$KUBE_VERSION" ;;
*) die "usage: $0 install|check|env" ;;
esac
