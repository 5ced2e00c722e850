#!/usr/bin/env bash
# The tools of the deployment checks (test/servers/deploy.test.ts, scripts/render-k8s.sh):
#   helm          a Helm 3.14+ (or 4) already on PATH is used as it is; else Helm $HELM_VERSION
#                 is built from source into $MOLETOK_CACHE/bin/helm-$HELM_VERSION (this needs
#                 Go 1.25 or newer)
#   k8s-validate  scripts/k8s-validate: strict, offline validation against the Kubernetes
#                 API types; built with Go into $MOLETOK_CACHE/bin/k8s-validate-<hash of its
#                 sources> (so Go is needed for it in any case)
# The names carry the version, so clones on different commits share the cache without
# rebuilding each other's tools.
# Go is looked up on PATH, then in /usr/local/go/bin; modules come from the Go module proxy.
#
#   scripts/deploy-tools.sh install   build what is missing or stale (idempotent, quiet when cached)
#   scripts/deploy-tools.sh check     exit 1, saying what to run, when a tool is missing or stale
#   scripts/deploy-tools.sh env       print HELM=… K8S_VALIDATE=… KUBE_VERSION=… (for eval)
#
# KUBE_VERSION is the Kubernetes release the chart is rendered for and validated against: the
# minor of the k8s.io/api module scripts/k8s-validate pins (1.35, the oldest minor still
# supported upstream, so what validates also decodes on the newer ones, whose v1 APIs only add).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MOLETOK_CACHE="${MOLETOK_CACHE:-$HOME/.cache/moletok}"
BIN="$MOLETOK_CACHE/bin"
HELM_VERSION=v3.22.0
HELM_DIR="$BIN/helm-$HELM_VERSION"
VALIDATOR_SRC="$ROOT/scripts/k8s-validate"
KUBE_MINOR="$(sed -n 's/^[[:space:]]*k8s\.io\/api v0\.\([0-9]*\)\..*/\1/p' "$VALIDATOR_SRC/go.mod")"
[ -n "$KUBE_MINOR" ] || { echo "deploy-tools: no k8s.io/api requirement in $VALIDATOR_SRC/go.mod" >&2; exit 1; }
KUBE_VERSION="1.$KUBE_MINOR.0"

log() { echo "deploy-tools: $*" >&2; }
die() { log "$*"; exit 1; }

go_cmd() {
	command -v go 2>/dev/null || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } ||
		die "Go 1.25 or newer is required to build $1 (looked on PATH and in /usr/local/go/bin); install Go, or for Helm put Helm 3.14+ on PATH"
}

# A Helm on PATH that is new enough (3.14+: `helm lint --kube-version`; or Helm 4).
path_helm() {
	local helm version
	helm="$(command -v helm 2>/dev/null)" || return 1
	version="$("$helm" version --short 2>/dev/null)" || return 1
	[[ $version =~ ^v(3\.(1[4-9]|[2-9][0-9])|[4-9])\. ]] && echo "$helm"
}

# The cached build: the pinned version with its release build's Kubernetes default.
cached_helm_ok() {
	"$HELM_DIR/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION" || return 1
	local go
	go="$(command -v go || echo /usr/local/go/bin/go)"
	[ -x "$go" ] || return 0
	"$go" version -m "$HELM_DIR/helm" 2>/dev/null | grep -q "chartutil.k8sVersionMinor=$KUBE_MINOR"
}

helm_path() { path_helm || { cached_helm_ok && echo "$HELM_DIR/helm"; }; }

# The validator's identity: a hash of its sources, in the binary's name.
validator_bin() { echo "$BIN/k8s-validate-$(cat "$VALIDATOR_SRC/go.mod" "$VALIDATOR_SRC/go.sum" "$VALIDATOR_SRC"/*.go | sha256sum | cut -c1-16)"; }
validator_ok() { [ -x "$(validator_bin)" ]; }

install_helm() {
	helm_path >/dev/null && return
	local go
	go="$(go_cmd "Helm $HELM_VERSION (no Helm 3.14+ on PATH)")"
	log "no Helm 3.14+ on PATH: building Helm $HELM_VERSION into $BIN with $go"
	# The k8sVersion flags are the ones Helm's own Makefile sets, here for the release the chart
	# is validated against; without them a plain `helm template` would assume Kubernetes 1.20.
	GOBIN="$HELM_DIR" GOTOOLCHAIN=local "$go" install -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$KUBE_MINOR
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$KUBE_MINOR" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
}

install_validator() {
	validator_ok && return
	local target
	target="$(validator_bin)"
	log "building k8s-validate into $target"
	(cd "$VALIDATOR_SRC" && GOFLAGS=-mod=readonly GOTOOLCHAIN=local "$(go_cmd k8s-validate)" build -trimpath -o "$target.new" .) >&2
	mv "$target.new" "$target"
}

case "${1:-}" in
install)
	mkdir -p "$BIN"
	install_helm
	install_validator
	;;
check)
	problems=()
	helm_path >/dev/null || problems+=("no Helm 3.14+ on PATH, and Helm $HELM_VERSION (for Kubernetes 1.$KUBE_MINOR) is missing from $HELM_DIR")
	validator_ok || problems+=("k8s-validate for these sources of scripts/k8s-validate is missing from $BIN")
	if [ ${#problems[@]} -gt 0 ]; then
		printf 'deploy-tools: %s\n' "${problems[@]}" >&2
		die "run: bash scripts/deploy-tools.sh install (it needs Go 1.25 or newer to build what is missing)"
	fi
	;;
env) echo "HELM=$(helm_path || echo "$HELM_DIR/helm") K8S_VALIDATE=$(validator_bin) KUBE_VERSION=$KUBE_VERSION" ;;
*) die "usage: $0 install|check|env" ;;
esac
