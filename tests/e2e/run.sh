#!/usr/bin/env bash
# End-to-end suite against a real Kubernetes control plane (etcd +
# kube-apiserver on loopback, envtest-style), Helm 4 and Lua 5.1.
#
#   tests/e2e/run.sh                 # every scenario
#   tests/e2e/run.sh crds helm       # only the scenarios whose name matches
#   E2E_KEEP=1 tests/e2e/run.sh      # keep the temporary dir (logs, kubeconfigs)
#
# The tools are built once by tests/e2e/provision.sh into
# ~/.cache/mediant-operator-e2e/<versions>/bin (needs Go and the module proxy
# the first time). The operator is target/debug/mediant-operator (built here
# when missing or stale), or $MEDIANT_OPERATOR.
#
# Each scenario is one function scenario_<name> in tests/e2e/scenarios/*.sh;
# the files are sourced in name order and the functions run in the order they
# are registered with `scenario NAME`. A new resource kind adds its CRD to
# crds/ (picked up by the CRD and example scenarios), its bad manifests to
# tests/e2e/bad/, its Argo CD health check under
# examples/gitops/argocd/resource_customizations/, and a scenario file.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
E2E_SRC="$REPO/tests/e2e"
source "$E2E_SRC/lib/common.sh"
source "$E2E_SRC/lib/controlplane.sh"
source "$E2E_SRC/lib/operator.sh"

t_start=$SECONDS
BIN="$("$E2E_SRC/provision.sh" | tail -n 1)"
export PATH="$BIN:$PATH"
log "tools ready in $((SECONDS - t_start))s ($BIN)"
for tool in jq curl openssl ss; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is required (apt-get install $tool)" >&2; exit 1; }
done

t=$SECONDS
if [ -z "${MEDIANT_OPERATOR:-}" ]; then
  cargo build --locked --quiet --bin mediant-operator
  # Honour a target directory set by CARGO_TARGET_DIR or cargo config.
  target_dir="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
  MEDIANT_OPERATOR="$target_dir/debug/mediant-operator"
fi
export MEDIANT_OPERATOR
log "operator binary ready in $((SECONDS - t))s"

E2E_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mediant-e2e.XXXXXX")"
export E2E_DIR REPO E2E_SRC
: >"$E2E_DIR/pids"
cleanup() {
  local rc=$?
  stop_all
  if [ "$rc" -ne 0 ]; then
    log "failed; logs in $E2E_DIR:"
    for f in "$E2E_DIR"/*.log; do
      [ "$(basename "$f")" = audit.log ] && continue
      echo "----- $(basename "$f") (last 25 lines)" >&2
      tail -n 25 "$f" >&2 || true
    done
  fi
  if [ "${E2E_KEEP:-}" = 1 ] || [ "$rc" -ne 0 ]; then
    log "kept $E2E_DIR"
  else
    rm -rf "$E2E_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SCENARIOS=()
scenario() { SCENARIOS+=("$1"); }
for f in "$E2E_SRC"/scenarios/*.sh; do source "$f"; done

selected=()
for s in "${SCENARIOS[@]}"; do
  if [ "$#" -eq 0 ]; then selected+=("$s"); continue; fi
  for want in "$@"; do [[ "$s" == *"$want"* ]] && selected+=("$s") && break; done
done
[ "${#selected[@]}" -gt 0 ] || { echo "no scenario matches: $*" >&2; exit 2; }

t=$SECONDS
cp_start
log "control plane up in $((SECONDS - t))s"

declare -A took
for s in "${selected[@]}"; do
  log "=== scenario $s"
  t=$SECONDS
  # A subshell: a failing assertion ends the scenario and the suite, while
  # the processes it spawned stay recorded for the exit trap.
  # (Not in an `if`: bash ignores set -e inside a condition.)
  set +e
  (set -euo pipefail; "scenario_$s")
  rc=$?
  set -e
  [ "$rc" -eq 0 ] || fail "scenario $s"
  took[$s]=$((SECONDS - t))
  log "--- scenario $s passed in ${took[$s]}s"
done

log "all ${#selected[@]} scenarios passed in $((SECONDS - t_start))s:"
for s in "${selected[@]}"; do printf '  %-28s %4ss\n' "$s" "${took[$s]}" >&2; done
