# GitOps examples: the Flux and Argo CD manifests pass a server-side dry run
# against the tools' own CRDs (taken from their Go modules by provision.sh).

scenario gitops_examples
scenario_gitops_examples() {
  local crds="$BIN/../crds"
  [ -f "$crds/.complete" ] || fail "the Flux/Argo CD CRDs are missing from $crds (tests/e2e/provision.sh)"
  k apply --server-side --field-manager=e2e -f "$crds" >/dev/null
  local crd
  for crd in gitrepositories.source.toolkit.fluxcd.io kustomizations.kustomize.toolkit.fluxcd.io applications.argoproj.io; do
    wait_established "$crd"
  done
  for ns in flux-system argocd; do
    k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null
  done
  # The CRDs' schemas are served once discovery has them.
  wait_until 60 "the Application kind in discovery" k explain application.spec
  local f out
  for f in "$REPO"/examples/gitops/flux/*.yaml "$REPO"/examples/gitops/argocd/*.yaml; do
    out="$(k apply --server-side --dry-run=server --field-manager=e2e -f "$f" 2>&1)" ||
      fail "${f#"$REPO"/} rejected: $out"
    log "${f#"$REPO"/}: accepted"
  done
}
