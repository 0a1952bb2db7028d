# Two replicas: the second stands by (ready, not leading); when the leader
# gets SIGTERM it releases the Lease, the standby takes over and reconciles.

scenario leader_handover
scenario_leader_handover() {
  operator_up
  [ -n "${REPLICA_replica_a_PID:-}" ] || fail "replica-a is not running"
  start_replica replica-b
  source "$E2E_DIR/operator.env"
  wait_until 30 "replica-b ready as a standby" bash -c "[ \"\$(curl -fsS http://127.0.0.1:$REPLICA_replica_b_PORT/readyz)\" = standby ]"
  assert_eq "$(lease_holder)" replica-a "holder while both run"
  local transitions
  transitions="$(k get lease "$LEASE" -n "$OPERATOR_NS" -o jsonpath='{.spec.leaseTransitions}')"

  local t0=$SECONDS
  kill -TERM "$REPLICA_replica_a_PID"
  wait_until 60 "replica-a to exit" bash -c "! kill -0 $REPLICA_replica_a_PID 2>/dev/null"
  wait_until 30 "replica-b to take the Lease" bash -c "[ \"\$(kubectl --kubeconfig '$E2E_ADMIN_KUBECONFIG' get lease $LEASE -n $OPERATOR_NS -o jsonpath='{.spec.holderIdentity}')\" = replica-b ]"
  log "replica-b leads $((SECONDS - t0))s after SIGTERM to replica-a (leaseTransitions $transitions -> $(k get lease "$LEASE" -n "$OPERATOR_NS" -o jsonpath='{.spec.leaseTransitions}'))"
  grep -q 'shutdown requested' "$E2E_DIR/operator-replica-a.log" || fail "replica-a did not log its shutdown"
  if grep -q 'releasing the leader Lease failed' "$E2E_DIR/operator-replica-a.log"; then fail "replica-a could not release the Lease"; fi
  grep -q 'acquired the leader Lease' "$E2E_DIR/operator-replica-b.log" || fail "replica-b did not log the takeover"
  wait_until 30 "replica-b /readyz as leader" bash -c "[ \"\$(curl -fsS http://127.0.0.1:$REPLICA_replica_b_PORT/readyz)\" != standby ]"

  # The new leader reconciles: an edit converges.
  k patch mediantdevice/sbc-teams --type=merge -p "{\"spec\":{\"ini\":{\"inline\":$(k get mediantdevice/sbc-teams -o json | jq '.spec.ini.inline | sub("10\\.15\\.2\\.[0-9]+"; "10.15.2.55")')}}}"
  wait_until 60 "the edit observed by replica-b" observed_current mediantdevice/sbc-teams
  wait_until 60 "Ready under replica-b" condition_is mediantdevice/sbc-teams Ready True
  grep -Eiq "^ *SyslogServerIP *= *['\"]?10\.15\.2\.55" <<<"$(sim_ini 0)" || fail "device 0 lacks the edit made under replica-b"
}
