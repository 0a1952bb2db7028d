# Argo CD health checks: each kind's health.lua against its health_test.yaml
# cases (Argo CD's layout), in Lua 5.1; and argocd-cm.yaml carries each
# script verbatim under resource.customizations.health.<group>_<Kind>.

ARGOCD_DIR="$REPO/examples/gitops/argocd"

scenario argocd_health
scenario_argocd_health() {
  command -v lua5.1 >/dev/null || fail "lua5.1 is missing (apt-get install lua5.1)"
  local dirs=() d
  for d in "$ARGOCD_DIR"/resource_customizations/*/*/; do dirs+=("${d%/}"); done
  [ "${#dirs[@]}" -gt 0 ] || fail "no health checks found"
  lua5.1 "$E2E_SRC/argocd/health_runner.lua" test yaml2json "${dirs[@]}" >&2

  local cm key group kind
  cm="$(yaml2json <"$ARGOCD_DIR/argocd-cm.yaml")"
  for d in "${dirs[@]}"; do
    kind="$(basename "$d")"
    group="$(basename "$(dirname "$d")")"
    key="resource.customizations.health.${group}_${kind}"
    diff <(jq -j --arg k "$key" '.data[$k] // ""' <<<"$cm") "$d/health.lua" >&2 ||
      fail "argocd-cm.yaml's $key differs from ${d#"$REPO"/}/health.lua"
  done
}
