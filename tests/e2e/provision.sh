#!/usr/bin/env bash
# Builds (once) the real control plane the end-to-end suite runs against and
# caches it outside the repository:
#   ${MEDIANT_E2E_CACHE:-~/.cache/mediant-operator-e2e}/<versions>/bin/
#     kube-apiserver, kubectl  (k8s.io/kubernetes, through a wrapper module)
#     etcd                     (go.etcd.io/etcd/server/v3, through a wrapper)
#     helm                     (go install helm.sh/helm/v4/cmd/helm)
# plus Lua 5.1 from Debian (Argo CD runs health scripts in gopher-lua, Lua 5.1).
# Each binary is built only when absent, so a warm cache costs nothing.
# Needs: Go >= the version k8s.io/kubernetes asks for, the Go module proxy.
# Prints the bin directory on its last line of stdout.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

K8S_VERSION="${MEDIANT_E2E_K8S_VERSION:-v1.37.2}"      # matches k8s-openapi's v1_37
ETCD_VERSION="${MEDIANT_E2E_ETCD_VERSION:-v3.6.16}"    # kube-apiserver 1.37 ships etcd 3.6
HELM_VERSION="${MEDIANT_E2E_HELM_VERSION:-v4.3.2}"
# The GitOps examples are validated against the real CRDs of the tools,
# taken from their Go modules (no other download is needed).
FLUX_SOURCE_VERSION="${MEDIANT_E2E_FLUX_SOURCE_VERSION:-v1.10.1}"
FLUX_KUSTOMIZE_VERSION="${MEDIANT_E2E_FLUX_KUSTOMIZE_VERSION:-v1.10.1}"
ARGOCD_VERSION="${MEDIANT_E2E_ARGOCD_VERSION:-v3.6.1}"
CACHE_ROOT="${MEDIANT_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mediant-operator-e2e}"
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}"
ROOT="$CACHE_ROOT/$KEY"
BIN="$ROOT/bin"
SRC="$ROOT/src"
mkdir -p "$BIN" "$SRC"

# Save time and space: no paths, no symbols; two parallel compile jobs (the
# machines are 2-core). -buildvcs=false: the wrappers are not repositories.
export GOFLAGS="${GOFLAGS:-} -trimpath -buildvcs=false"
export GOTOOLCHAIN=local
LDFLAGS_BASE="-s -w"
log() { echo "[provision $(date +%T)] $*" >&2; }

# One provisioner at a time per cache (CI and a developer shell may race).
exec 9>"$ROOT/.lock"
flock 9

command -v go >/dev/null || { echo "provision: Go is required to build the control plane (see README, End to end)" >&2; exit 1; }

build_kubernetes() {
  local dir="$SRC/kubernetes" minor major
  major="${K8S_VERSION#v}"; major="${major%%.*}"
  minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
  local staging_version="v0.${minor}.${K8S_VERSION##*.}"
  mkdir -p "$dir"
  cd "$dir"
  if [ ! -f go.mod ] || ! grep -q "k8s.io/kubernetes $K8S_VERSION" go.mod; then
    log "kubernetes $K8S_VERSION: preparing wrapper module (staging modules at $staging_version)"
    rm -f go.mod go.sum
    go mod init mediant-operator-e2e/kubernetes >/dev/null 2>&1
    # k8s.io/kubernetes requires its staging modules at v0.0.0 through local
    # replace lines, which do not apply to a dependency; replace each with its
    # published release instead. The list is read from the downloaded go.mod.
    local kmod
    kmod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    [ -f "$kmod" ] || { echo "provision: could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
    local goline
    goline="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$kmod" | head -1)"
    go mod edit -go="$goline"
    local staging
    staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$kmod" | sort -u)"
    [ -n "$staging" ] || { echo "provision: no staging replace lines found in $kmod" >&2; exit 1; }
    local m args=()
    for m in $staging; do args+=("-replace=$m=$m@$staging_version"); done
    go mod edit "${args[@]}" -require="k8s.io/kubernetes@$K8S_VERSION"
    cat > tools.go <<'GO'
//go:build tools

// Package tools pins the commands this wrapper builds.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    log "kubernetes: go mod tidy (downloads the dependency graph)"
    go mod tidy >&2
  fi
  local now; now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ld="$LDFLAGS_BASE"
  local p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$now"
  done
  local cmd
  for cmd in kube-apiserver kubectl; do
    if [ ! -x "$BIN/$cmd" ]; then
      log "building $cmd $K8S_VERSION"
      local t0=$SECONDS
      go build -p 2 -ldflags "$ld" -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
      mv "$BIN/$cmd.tmp" "$BIN/$cmd"
      log "built $cmd in $((SECONDS - t0))s"
    fi
  done
}

build_etcd() {
  [ -x "$BIN/etcd" ] && return 0
  local dir="$SRC/etcd"
  mkdir -p "$dir"
  cd "$dir"
  log "etcd $ETCD_VERSION: wrapper module"
  rm -f go.mod go.sum
  go mod init mediant-operator-e2e/etcd >/dev/null 2>&1
  cat > main.go <<'GO'
// Command etcd is the etcd server, built from the go.etcd.io/etcd/server/v3
// module (Debian's etcd 3.4 is older than kube-apiserver accepts).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go mod tidy >&2
  local t0=$SECONDS
  go build -p 2 -ldflags "$LDFLAGS_BASE" -o "$BIN/etcd.tmp" . >&2
  mv "$BIN/etcd.tmp" "$BIN/etcd"
  log "built etcd in $((SECONDS - t0))s"
}

build_helm() {
  [ -x "$BIN/helm" ] && return 0
  log "helm $HELM_VERSION: go install"
  local t0=$SECONDS
  GOBIN="$BIN" go install -p 2 -ldflags "$LDFLAGS_BASE -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
  log "built helm in $((SECONDS - t0))s"
}

# A small YAML-to-JSON filter for the Lua test runner (tests/e2e/tools);
# rebuilt when its source is newer than the binary.
build_yaml2json() {
  local src
  src="$SCRIPT_DIR/tools/yaml2json"
  if [ -x "$BIN/yaml2json" ] && [ ! "$src/main.go" -nt "$BIN/yaml2json" ]; then return 0; fi
  log "building yaml2json"
  (cd "$src" && go build -p 2 -ldflags "$LDFLAGS_BASE" -o "$BIN/yaml2json" .) >&2
}

# module_file MODULE@VERSION PATH OUT: one file of a Go module, read from
# the module zip the proxy serves (not the extracted tree: these modules ask
# for a newer Go than the one here, which is irrelevant for YAML files).
module_file() {
  local zip
  zip="$( (go mod download -json "$1" 2>/dev/null || true) | sed -n 's/.*"Zip": "\(.*\)",*/\1/p')"
  [ -f "$zip" ] || { echo "provision: cannot download $1 from the Go module proxy" >&2; return 1; }
  if command -v unzip >/dev/null; then
    unzip -p "$zip" "$1/$2" >"$3"
  else
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$zip" "$1/$2" >"$3"
  fi
  grep -q 'kind: CustomResourceDefinition' "$3"
}

# CRDs of Flux (GitRepository, Kustomization) and Argo CD (Application),
# into $ROOT/crds, for the server-side dry run of examples/gitops.
fetch_gitops_crds() {
  local out="$ROOT/crds"
  [ -f "$out/.complete" ] && return 0
  mkdir -p "$out"
  cd "$SRC"
  log "fetching the Flux and Argo CD CRDs from their Go modules"
  module_file "github.com/fluxcd/source-controller@$FLUX_SOURCE_VERSION" \
    config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml "$out/source.toolkit.fluxcd.io_gitrepositories.yaml"
  module_file "github.com/fluxcd/kustomize-controller@$FLUX_KUSTOMIZE_VERSION" \
    config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml "$out/kustomize.toolkit.fluxcd.io_kustomizations.yaml"
  module_file "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" \
    manifests/crds/application-crd.yaml "$out/argoproj.io_applications.yaml"
  touch "$out/.complete"
}

ensure_lua() {
  if command -v lua5.1 >/dev/null; then ln -sf "$(command -v lua5.1)" "$BIN/lua5.1"; return 0; fi
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    log "installing lua5.1 from Debian"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lua5.1; } >&2 || true
  fi
  if command -v lua5.1 >/dev/null; then ln -sf "$(command -v lua5.1)" "$BIN/lua5.1"
  else log "WARNING: lua5.1 unavailable (apt-get install lua5.1); the Argo CD health tests will be skipped"; fi
}

T0=$SECONDS
ensure_lua
build_yaml2json
build_helm
build_etcd
build_kubernetes
fetch_gitops_crds
log "control plane ready in $((SECONDS - T0))s: $BIN"
echo "$BIN"
