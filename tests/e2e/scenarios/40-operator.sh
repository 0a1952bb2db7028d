# The controller against the real server, authenticated as the chart's
# ServiceAccount (so the real RBAC authoriser checks every request), and
# against simulated devices: what the device holds is read back from the
# simulator, never taken from the operator's own output.

DEV=mediantdevice/sbc-teams

# The device's INI has SETTING = VALUE (as the device renders it: any case,
# any quoting).
device_has() {
  # (Not `sim_ini | grep -q`: grep's early exit fails the pipe under pipefail.)
  grep -Eiq "^ *$2 *= *['\"]?$3['\"]? *$" <<<"$(sim_ini "$1")"
}

scenario operator_ready
scenario_operator_ready() {
  operator_up
  # Record every state of every device from here on (kstatus checks below).
  spawn watch-devices bash -c "exec kubectl --kubeconfig '$E2E_ADMIN_KUBECONFIG' get mediantdevices -n default -w --output-watch-events -o json 2>'$E2E_DIR/watch-devices.err'"
  wait_until 30 "the admin's watch" bash -c "grep -q '\"verb\":\"watch\".*\"resource\":\"mediantdevices\"' '$E2E_DIR/audit.log' || grep -q '\"resource\":\"mediantdevices\".*\"verb\":\"watch\"' '$E2E_DIR/audit.log'"

  example_on_device mediantdevice-ini.yaml 0 | k apply -f -
  example_on_device mediantdevice-cli.yaml 1 | k apply -f -
  k wait "$DEV" --for=condition=Ready --timeout=120s
  k wait mediantdevice/sbc-branch --for=condition=Ready --timeout=120s
  k get mediantdevices -o wide >&2

  # The devices hold what the manifests declare.
  device_has 0 SyslogServerIP 10.15.2.3 || fail "device 0 lacks SyslogServerIP 10.15.2.3: $(sim_ini 0 | grep -i syslog)"
  grep -qi 'sip.pstnhub.microsoft.com' <<<"$(sim_ini 0)" || fail "device 0 lacks the Teams proxies"
  grep -q 'sip.itsp.example' <<<"$(sim_get 1 /api/v1/files/cliScript)" || fail "device 1 lacks the ITSP proxy"

  observed_current "$DEV" || fail "observedGeneration lags after Ready"
  # Status is written by server-side apply on the status subresource, and
  # the operator owns no field outside status.
  local managed
  managed="$(k get "$DEV" -o json --show-managed-fields | jq -c '[.metadata.managedFields[] | select(.manager == "mediant-operator")]')"
  assert_eq "$(jq -c 'map({operation, subresource})' <<<"$managed")" '[{"operation":"Apply","subresource":"status"}]' "the operator's field ownership"
  assert_eq "$(jq -c '[.[].fieldsV1 | keys[]] | unique' <<<"$managed")" '["f:status"]' "fields the operator owns"
  local health
  health="$(argocd_health_of "$DEV")"
  assert_eq "${health%%$'\t'*}" Healthy "Argo CD health of a Ready device"
  # The Applied event, through events.k8s.io as the operator wrote it.
  k get events.events.k8s.io -n default -o json |
    jq -e '[.items[] | select(.regarding.name == "sbc-teams" and .reason == "Applied")] | length > 0' >/dev/null ||
    fail "no Applied event for sbc-teams"
}

scenario operator_spec_edit
scenario_operator_spec_edit() {
  operator_up
  local before after
  before="$(k get "$DEV" -o jsonpath='{.metadata.generation}')"
  example_on_device mediantdevice-ini.yaml 0 | sed 's/SyslogServerIP = 10.15.2.3/SyslogServerIP = 10.15.2.99/' | k apply -f -
  after="$(k get "$DEV" -o jsonpath='{.metadata.generation}')"
  [ "$after" -gt "$before" ] || fail "the edit did not bump the generation ($before -> $after)"
  wait_until 60 "generation $after observed" observed_current "$DEV"
  wait_until 60 "Ready after the edit" condition_is "$DEV" Ready True
  wait_until 10 "device 0 to hold 10.15.2.99" device_has 0 SyslogServerIP 10.15.2.99
}

scenario operator_secret_edit
scenario_operator_secret_edit() {
  operator_up
  condition_is "$DEV" Ready True || k wait "$DEV" --for=condition=Ready --timeout=60s
  # spec.interval is 5m: only the Secret watch can bring this in seconds.
  k patch secret sbc-teams-credentials --type=merge -p '{"stringData":{"password":"not-the-password"}}'
  wait_until 30 "Ready=False Unauthorized after the Secret edit" condition_is "$DEV" Ready False Unauthorized
  condition_is "$DEV" Reachable False Unauthorized || fail "Reachable: $(condition_of "$DEV" Reachable)"
  local health
  health="$(argocd_health_of "$DEV")"
  assert_eq "${health%%$'\t'*}" Degraded "Argo CD health with refused credentials"
  # No secret value in status, events or the operator's logs.
  if grep -q 'not-the-password' <<<"$(k get "$DEV" -o json)"; then fail "the password is in status"; fi
  if grep -q 'not-the-password' <<<"$(k get events.events.k8s.io -n default -o json)"; then fail "the password is in an event"; fi
  if grep -q 'not-the-password' "$E2E_DIR"/operator-*.log; then fail "the password is in the operator's log"; fi
  k patch secret sbc-teams-credentials --type=merge -p '{"stringData":{"password":"Admin"}}'
  wait_until 30 "Ready again with the right password" condition_is "$DEV" Ready True
}

scenario operator_bad_spec
scenario_operator_bad_spec() {
  operator_up
  sim_reset_counters 2
  # Valid for the CRD, malformed INI: only the operator can tell.
  k apply -f - <<YAML
apiVersion: mediant.io/v1alpha1
kind: MediantDevice
metadata: {name: sbc-bad, namespace: default}
spec:
  endpoint: $(sim_url 2)
  credentialsSecretRef: {name: sbc-teams-credentials}
  ini:
    inline: |
      [SYSTEM Params
      SyslogServerIP = 10.1.1.1
YAML
  wait_until 60 "sbc-bad Stalled=True InvalidSpec" condition_is mediantdevice/sbc-bad Stalled True InvalidSpec
  condition_is mediantdevice/sbc-bad Ready False InvalidSpec || fail "Ready: $(condition_of mediantdevice/sbc-bad Ready)"
  assert_eq "$(sim_counters 2 | jq .total)" 0 "requests to the device of an invalid spec"
  local health
  health="$(argocd_health_of mediantdevice/sbc-bad)"
  assert_eq "${health%%$'\t'*}" Degraded "Argo CD health of an invalid spec"
  k get events.events.k8s.io -n default -o json |
    jq -e '[.items[] | select(.regarding.name == "sbc-bad" and .reason == "InvalidSpec" and .type == "Warning")] | length > 0' >/dev/null ||
    fail "no InvalidSpec warning event"
  # Fixing the spec clears Stalled.
  k patch mediantdevice sbc-bad --type=merge -p '{"spec":{"ini":{"inline":"[SYSTEM Params]\nSyslogServerIP = 10.1.1.1\n"}}}'
  wait_until 60 "sbc-bad Ready after the fix" condition_is mediantdevice/sbc-bad Ready True
  if condition_is mediantdevice/sbc-bad Stalled True; then fail "Stalled stays after the fix"; fi
  device_has 2 SyslogServerIP 10.1.1.1 || fail "device 2 lacks the fixed setting"
}

scenario operator_suspend
scenario_operator_suspend() {
  operator_up
  wait_until 30 "Ready" condition_is "$DEV" Ready True
  sim_reset_counters 0
  k patch "$DEV" --type=merge -p "{\"spec\":{\"suspend\":true,\"ini\":{\"inline\":$(k get "$DEV" -o json | jq '.spec.ini.inline | sub("10\\.15\\.2\\.[0-9]+"; "10.15.2.77")')}}}"
  wait_until 60 "the suspended generation observed" observed_current "$DEV"
  wait_until 30 "Synced=False Suspended" condition_is "$DEV" Synced False Suspended
  sleep 3
  local counters
  counters="$(sim_counters 0)"
  assert_eq "$(jq .writes <<<"$counters")" 0 "writes to a suspended device"
  [ "$(jq '.requests["GET /api/v1/files/ini"] // 0' <<<"$counters")" -ge 1 ] || fail "drift was not observed while suspended: $counters"
  if device_has 0 SyslogServerIP 10.15.2.77; then fail "a suspended device was changed"; fi
  local health
  health="$(argocd_health_of "$DEV")"
  assert_eq "${health%%$'\t'*}" Suspended "Argo CD health while suspended"
  k patch "$DEV" --type=merge -p '{"spec":{"suspend":false}}'
  wait_until 60 "Ready after resuming" condition_is "$DEV" Ready True
  device_has 0 SyslogServerIP 10.15.2.77 || fail "the change made while suspended was not applied on resume"
}

# LicenseEntitlement, the second kind the controller runs: the example's
# licence key reaches simulated device 3 (read back from its counters), the
# entitlement becomes Ready, and Argo CD's check for the kind says Healthy.
scenario operator_license
scenario_operator_license() {
  operator_up
  sim_reset_counters 3
  example_on_device license-key.yaml 3 | k apply -f -
  k wait mediantdevice/sbc-edge --for=condition=Ready --timeout=120s
  k wait licenseentitlement/sbc-edge --for=condition=Ready --timeout=120s
  k get licenseentitlements -o wide >&2
  local puts
  puts="$(sim_counters 3 | jq '[.requests | to_entries[] | select(.key | test("^PUT /api/v1/license")) | .value] | add // 0')"
  [ "$puts" -ge 1 ] || fail "the licence was never sent to device 3: $(sim_counters 3)"
  observed_current licenseentitlement/sbc-edge || fail "observedGeneration lags after Ready"
  local health
  health="$(k get licenseentitlement/sbc-edge -o json | lua5.1 "$E2E_SRC/argocd/health_runner.lua" eval \
    "$REPO/examples/gitops/argocd/resource_customizations/mediant.io/LicenseEntitlement/health.lua")"
  assert_eq "${health%%$'\t'*}" Healthy "Argo CD health of a Ready LicenseEntitlement"
  if grep -q 'jCx6r5tovCIKaBBbhPtT53Yj' <<<"$(k get licenseentitlement/sbc-edge -o json)"; then fail "the licence key is in status"; fi
}

# TlsContext, the third kind: the on-device example (a key and a
# self-signed certificate generated by sbc-branch, simulated device 1)
# becomes Ready with writes seen by the device, and Argo CD says Healthy.
scenario operator_tls
scenario_operator_tls() {
  operator_up
  k wait mediantdevice/sbc-branch --for=condition=Ready --timeout=60s
  sim_reset_counters 1
  k apply -f "$REPO/examples/tls-on-device.yaml"
  k wait tlscontext/sbc-branch-tls --for=condition=Ready --timeout=120s
  k get tlscontexts -o wide >&2
  [ "$(sim_counters 1 | jq .writes)" -ge 1 ] || fail "the TLS context was never written to device 1: $(sim_counters 1)"
  observed_current tlscontext/sbc-branch-tls || fail "observedGeneration lags after Ready"
  local health
  health="$(k get tlscontext/sbc-branch-tls -o json | lua5.1 "$E2E_SRC/argocd/health_runner.lua" eval \
    "$REPO/examples/gitops/argocd/resource_customizations/mediant.io/TlsContext/health.lua")"
  assert_eq "${health%%$'\t'*}" Healthy "Argo CD health of a Ready TlsContext"
}

# Server-side apply of status on the real server: conditions are a list map
# keyed by type, so a condition another manager applied survives the
# operator's own status applies (the double only imitates this).
scenario operator_status_ssa_merge
scenario_operator_status_ssa_merge() {
  operator_up
  wait_until 30 "Ready" condition_is "$DEV" Ready True
  k apply --server-side --subresource=status --field-manager=e2e-auditor -f - <<YAML
apiVersion: mediant.io/v1alpha1
kind: MediantDevice
metadata: {name: sbc-teams, namespace: default}
status:
  conditions:
    - type: AuditPassed
      status: "True"
      reason: Checked
      message: checked by another controller
      lastTransitionTime: "2026-12-01T00:00:00Z"
YAML
  # Make the operator write status again: an edit it must apply.
  k patch "$DEV" --type=merge -p "{\"spec\":{\"ini\":{\"inline\":$(k get "$DEV" -o json | jq '.spec.ini.inline | sub("10\\.15\\.2\\.[0-9]+"; "10.15.2.66")')}}}"
  wait_until 60 "the edit observed" observed_current "$DEV"
  wait_until 60 "Ready after the edit" condition_is "$DEV" Ready True
  condition_is "$DEV" AuditPassed True Checked || fail "the operator's status apply dropped another manager's condition: $(k get "$DEV" -o jsonpath='{.status.conditions[*].type}')"
  local owners
  owners="$(k get "$DEV" -o json --show-managed-fields | jq -r '[.metadata.managedFields[] | select(.subresource == "status") | .manager] | sort | join(" ")')"
  assert_eq "$owners" "e2e-auditor mediant-operator" "managers of status"
}

# Once in sync, drift checks read the device and write nothing: not to the
# device, and no status patch to the API server (counted in the audit log).
scenario operator_in_sync_no_writes
scenario_operator_in_sync_no_writes() {
  operator_up
  k patch "$DEV" --type=merge -p '{"spec":{"interval":"10s"}}'
  wait_until 60 "interval 10s observed" observed_current "$DEV"
  wait_until 30 "Ready" condition_is "$DEV" Ready True
  local total_before
  total_before="$(audit_since 1 | jq -s --arg u "$OPERATOR_USER" '[.[] | select(.user.username == $u and .objectRef.subresource == "status" and .objectRef.name == "sbc-teams" and .verb == "patch")] | length')"
  sleep 2
  local mark
  mark="$(audit_lines)"
  sim_reset_counters 0
  sleep 25
  local writes
  writes="$(audit_since "$((mark + 1))" | jq -s --arg u "$OPERATOR_USER" \
    '[.[] | select(.user.username == $u and (.verb | IN("create", "update", "patch", "delete")) and .objectRef.resource != "leases")] | map("\(.verb) \(.objectRef.resource)/\(.objectRef.subresource // "") \(.objectRef.name)")')"
  local counters
  counters="$(sim_counters 0)"
  local gets
  gets="$(jq '.requests["GET /api/v1/files/ini"] // 0' <<<"$counters")"
  log "25 s in sync at interval 10s: $gets INI reads, $(jq .writes <<<"$counters") device writes, API writes: $writes (status patches until then: $total_before)"
  [ "$gets" -ge 2 ] || fail "fewer than 2 drift checks in 25 s at interval 10s: $counters"
  assert_eq "$(jq .writes <<<"$counters")" 0 "device writes while in sync"
  assert_eq "$(jq length <<<"$writes")" 0 "API writes while in sync: $writes"
}
