# The operator as a host process authenticated as the chart's
# ServiceAccount, and the simulated devices it manages. Sourced by run.sh.
# State shared between scenarios (each runs in a subshell) lives in
# $E2E_DIR/operator.env.

OPERATOR_NS=mediant-system
OPERATOR_SA=mediant-operator
OPERATOR_USER="system:serviceaccount:$OPERATOR_NS:$OPERATOR_SA"
LEASE=mediant-operator
HEALTH_LUA="$REPO/examples/gitops/argocd/resource_customizations/mediant.io/MediantDevice/health.lua"

# Argo CD's verdict on a live object: "<status>\t<message>".
argocd_health() { lua5.1 "$E2E_SRC/argocd/health_runner.lua" eval "$HEALTH_LUA"; }
argocd_health_of() { k get -n "${2:-default}" "$1" -o json | argocd_health; }

# sim_get DEVICE PATH: a GET on simulated device DEVICE (0-based) as Admin.
sim_url() { sed -n "$(($1 + 1))p" "$E2E_DIR/simulator.urls"; }
sim_get() { curl -fsS -u Admin:Admin "$(sim_url "$1")$2"; }
sim_counters() { curl -fsS "$(sim_url "$1")/_simulator/counters"; }
sim_reset_counters() { curl -fsS -X DELETE "$(sim_url "$1")/_simulator/counters" >/dev/null; }
# The INI the device holds now, one line per setting.
sim_ini() { sim_get "$1" /api/v1/files/ini | tr -d '\r'; }

lease_holder() { k get lease "$LEASE" -n "$OPERATOR_NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

# start_replica IDENTITY: one `mediant-operator run` process.
start_replica() {
  local id="$1" port
  port="$(free_port)"
  spawn "operator-$id" env -u POD_NAME -u POD_NAMESPACE RUST_LOG=info "$MEDIANT_OPERATOR" run \
    --kubeconfig "$E2E_OPERATOR_KUBECONFIG" --metrics-addr "127.0.0.1:$port" \
    --lease-name "$LEASE" --identity "$id" --log-format json --cert-manager-recheck 2s
  echo "REPLICA_${id//-/_}_PID=$SPAWNED_PID" >>"$E2E_DIR/operator.env"
  echo "REPLICA_${id//-/_}_PORT=$port" >>"$E2E_DIR/operator.env"
  wait_until 60 "$id's /healthz" curl -fsS "http://127.0.0.1:$port/healthz"
}

# Brings up what the operator scenarios need, once: CRDs and the chart
# (for its ServiceAccount and RBAC), four simulated devices, a kubeconfig
# with a ServiceAccount token, and replica-a holding the Lease.
operator_up() {
  if [ -f "$E2E_DIR/operator.env" ]; then
    source "$E2E_DIR/operator.env"
    return 0
  fi
  if ! k get serviceaccount "$OPERATOR_SA" -n "$OPERATOR_NS" >/dev/null 2>&1; then
    (scenario_crds_established && scenario_helm_install) || fail "installing the chart"
  fi
  spawn simulator "$MEDIANT_OPERATOR" simulate --listen 127.0.0.1:0 --devices 4
  wait_until 60 "four simulated devices" bash -c "[ \$(grep -c '^http' '$E2E_DIR/simulator.log') -ge 4 ]"
  grep '^http' "$E2E_DIR/simulator.log" | sed 's#/$##' >"$E2E_DIR/simulator.urls"
  log "simulated devices: $(tr '\n' ' ' <"$E2E_DIR/simulator.urls")"

  E2E_OPERATOR_KUBECONFIG="$E2E_DIR/operator.kubeconfig"
  cp_serviceaccount_kubeconfig "$OPERATOR_NS" "$OPERATOR_SA" "$E2E_OPERATOR_KUBECONFIG"
  echo "E2E_OPERATOR_KUBECONFIG=$E2E_OPERATOR_KUBECONFIG" >"$E2E_DIR/operator.env"
  # The token really is the ServiceAccount's, and RBAC really applies to it.
  assert_eq "$(k_operator auth whoami -o jsonpath='{.status.userInfo.username}')" "$OPERATOR_USER" "token identity"
  if k_operator get pods -n "$OPERATOR_NS" >/dev/null 2>&1; then fail "the ServiceAccount may list pods"; fi

  start_replica replica-a
  wait_until 60 "replica-a to hold the Lease" bash -c "[ \"\$(kubectl --kubeconfig '$E2E_ADMIN_KUBECONFIG' get lease $LEASE -n $OPERATOR_NS -o jsonpath='{.spec.holderIdentity}')\" = replica-a ]"

  # cert-manager's CertificateRequest API (tests/e2e/cert-manager/, the
  # TlsContext CSR flow) arrives after the operator started, as when
  # cert-manager is installed later: the operator, rechecking every 2 s,
  # follows CertificateRequests without a restart.
  wait_until 30 "replica-a to find CertificateRequests not served" \
    grep -q 'cannot be listed' "$E2E_DIR/operator-replica-a.log"
  k apply --server-side --field-manager=e2e -f "$E2E_SRC/cert-manager/" >/dev/null
  wait_established certificaterequests.cert-manager.io
  wait_until 30 "replica-a to follow CertificateRequests" \
    grep -q 'CertificateRequests are served now' "$E2E_DIR/operator-replica-a.log"
  # Its watch is open (a watch shows in the audit log as ResponseStarted).
  wait_until 30 "a watch of CertificateRequests by the operator" bash -c \
    "tail -n +1 '$E2E_DIR/audit.log' | jq -e -s --arg u '$OPERATOR_USER' 'any(.[]; .user.username == \$u and .verb == \"watch\" and .objectRef.resource == \"certificaterequests\" and .stage == \"ResponseStarted\")' >/dev/null"
  log "CertificateRequests installed after the operator started: followed without a restart"
  source "$E2E_DIR/operator.env"
}

# The example manifest FILE with its endpoint moved to simulated device N
# (the examples name 127.0.0.1:8080/8081, which may be taken here).
example_on_device() {
  local file="$1" n="$2"
  sed -E "s#endpoint: http://127\.0\.0\.1:808[0-9]#endpoint: $(sim_url "$n")#" "$REPO/examples/$file"
}
