# TlsContext's CSR flow against the real server: cert-manager's
# CertificateRequest CRD (tests/e2e/cert-manager/), the test as the issuer
# (openssl signs the CSR; the status subresource gets status.certificate and
# Ready=True). Judged on the simulated device: its certificate's SHA-256 is
# the signed one's, and the resyncs after it write nothing (device counters,
# audit log). A Denied request is named in the conditions and nothing is
# uploaded. No private key shows anywhere.

CSR_TLS=tlscontext/sbc-teams-carrier-tls

# The CertificateRequests of TlsContext $1, as JSON items.
requests_of() {
  k get certificaterequests -n default -l "mediant.io/tls-context=$1" -o json | jq -c '.items'
}

# sha256 fingerprint (hex, lower case, no colons) of the first PEM certificate on stdin.
fingerprint() {
  openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

scenario tls_csr_signed
scenario_tls_csr_signed() {
  operator_up
  k get mediantdevice/sbc-teams >/dev/null 2>&1 || example_on_device mediantdevice-ini.yaml 0 | k apply -f -
  k wait mediantdevice/sbc-teams --for=condition=Ready --timeout=120s
  # Not $E2E_DIR/pki: the control plane's CA lives there.
  local pki="$E2E_DIR/test-issuer"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" \
    -subj "/CN=e2e voice CA" -days 30 2>/dev/null

  sed 's/interval: 10m/interval: 10s/' "$REPO/examples/tls-on-device-csr.yaml" | k apply -f -
  wait_until 120 "a CertificateRequest of sbc-teams-carrier-tls" bash -c "[ \"\$(kubectl --kubeconfig '$E2E_ADMIN_KUBECONFIG' get certificaterequests -n default -l mediant.io/tls-context=sbc-teams-carrier-tls -o json | jq '.items | length')\" -ge 1 ]"
  local cr name
  cr="$(requests_of sbc-teams-carrier-tls | jq -c '.[0]')"
  name="$(jq -r .metadata.name <<<"$cr")"
  assert_eq "$(jq -r '.spec.issuerRef | "\(.kind)/\(.name)"' <<<"$cr")" "ClusterIssuer/voice-ca" "issuerRef"
  assert_eq "$(jq -r '.metadata.ownerReferences[0] | "\(.kind)/\(.name)"' <<<"$cr")" "TlsContext/sbc-teams-carrier-tls" "owner"
  assert_eq "$(jq -c .spec.usages <<<"$cr")" '["digital signature","key encipherment","server auth","client auth"]' "usages"
  assert_eq "$(jq -r .spec.duration <<<"$cr")" 2160h "duration"
  jq -r .spec.request <<<"$cr" | base64 -d >"$pki/device.csr"
  openssl req -in "$pki/device.csr" -noout -verify 2>&1 | grep -q 'verify OK' || fail "the CSR does not verify"
  openssl req -in "$pki/device.csr" -noout -subject | grep -q 'sbc-teams.example.com' || fail "CSR subject: $(openssl req -in "$pki/device.csr" -noout -subject)"
  wait_until 30 "Ready=False CertificateRequestPending" condition_is "$CSR_TLS" Ready False CertificateRequestPending
  assert_eq "$(k get "$CSR_TLS" -o jsonpath='{.status.certificateRequest.name}')" "$name" "status.certificateRequest.name"

  # The issuer: sign with openssl, write status through the subresource.
  printf 'subjectAltName=DNS:sbc-teams.example.com\nextendedKeyUsage=serverAuth,clientAuth\n' >"$pki/ext.cnf"
  openssl x509 -req -in "$pki/device.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 90 -sha256 -extfile "$pki/ext.cnf" -out "$pki/device.crt" 2>/dev/null
  local want
  want="$(fingerprint <"$pki/device.crt")"
  # status.certificate.daysToExpiry counts whole days left: just signed it
  # is 90 and turns 89 a second later (one status write, rightly). Let it
  # turn before the upload so the quiet window below sees none.
  sleep 2
  k patch certificaterequest "$name" -n default --subresource=status --type=merge -p "$(jq -n \
    --arg crt "$(base64 -w0 <"$pki/device.crt")" --arg ca "$(base64 -w0 <"$pki/ca.crt")" '{status: {
      conditions: [
        {type: "Approved", status: "True", reason: "e2e", message: "approved by the test", lastTransitionTime: (now | todate)},
        {type: "Ready", status: "True", reason: "Issued", message: "signed by the test", lastTransitionTime: (now | todate)}],
      certificate: $crt, ca: $ca}}')" >/dev/null
  local t0=$SECONDS
  k wait "$CSR_TLS" --for=condition=Ready --timeout=60s
  log "signed certificate to Ready in $((SECONDS - t0))s"
  local index have
  index="$(k get "$CSR_TLS" -o jsonpath='{.status.contextIndex}')"
  have="$(sim_get 0 "/api/v1/files/tls/$index/certificate" | fingerprint)"
  assert_eq "$have" "$want" "the device certificate of context $index"
  assert_eq "$(k get "$CSR_TLS" -o jsonpath='{.status.certificate.fingerprint}')" "$want" "status fingerprint"
  assert_eq "$(sim_get 0 "/api/v1/files/tls/$index/privateKey" | jq -r .valid | tr 'A-Z' 'a-z')" true "the device calls key and certificate matching"
  assert_eq "$(k get secret sbc-teams-carrier-tls-csr -n default -o jsonpath='{.data.tls\.crt}' | base64 -d | fingerprint)" "$want" "published tls.crt"
  # kubectl prints NotAfter as the RFC 3339 time, not `<invalid>`.
  local row
  row="$(k get "$CSR_TLS" --no-headers)"
  if grep -q '<invalid>' <<<"$row"; then fail "kubectl prints: $row"; fi
  grep -Eq '20[0-9]{2}-[0-9]{2}-[0-9]{2}T' <<<"$row" || fail "no NotAfter time in: $row"

  # In sync: 25 s of resyncs at interval 10s write nothing to device 0 and
  # make no API write of the operator.
  sleep 2
  local mark writes counters
  mark="$(audit_lines)"
  sim_reset_counters 0
  k get "$CSR_TLS" -o json | jq -S .status >"$E2E_DIR/csr-status-before.json"
  sleep 25
  k get "$CSR_TLS" -o json | jq -S .status >"$E2E_DIR/csr-status-after.json"
  counters="$(sim_counters 0)"
  writes="$(audit_since "$((mark + 1))" | jq -s --arg u "$OPERATOR_USER" \
    '[.[] | select(.user.username == $u and (.verb | IN("create", "update", "patch", "delete")) and .objectRef.resource != "leases")] | map("\(.verb) \(.objectRef.resource)/\(.objectRef.subresource // "") \(.objectRef.name)")')"
  log "25 s in sync: $(jq ".requests[\"GET /api/v1/files/tls/$index/certificate\"] // 0" <<<"$counters") certificate reads, $(jq .writes <<<"$counters") device writes, API writes: $writes"
  [ "$(jq ".requests[\"GET /api/v1/files/tls/$index/certificate\"] // 0" <<<"$counters")" -ge 2 ] || fail "fewer than 2 resyncs: $counters"
  assert_eq "$(jq .writes <<<"$counters")" 0 "device writes while in sync"
  assert_eq "$(jq length <<<"$writes")" 0 "API writes while in sync: $writes; status changed: $(diff "$E2E_DIR/csr-status-before.json" "$E2E_DIR/csr-status-after.json")"
  assert_eq "$(requests_of sbc-teams-carrier-tls | jq length)" 1 "CertificateRequests"
}

scenario tls_csr_denied
scenario_tls_csr_denied() {
  operator_up
  k get mediantdevice/sbc-teams >/dev/null 2>&1 || example_on_device mediantdevice-ini.yaml 0 | k apply -f -
  k apply -f - <<YAML
apiVersion: mediant.io/v1alpha1
kind: TlsContext
metadata: {name: sbc-teams-strict-tls, namespace: default}
spec:
  deviceRef: {name: sbc-teams}
  context: {name: Strict}
  certificate:
    generateOnDevice:
      keySize: 2048
      certificateRequest:
        subject: {commonName: strict.example.com}
        issuerRef: {name: strict-ca, kind: Issuer}
YAML
  wait_until 120 "a CertificateRequest of sbc-teams-strict-tls" bash -c "[ \"\$(kubectl --kubeconfig '$E2E_ADMIN_KUBECONFIG' get certificaterequests -n default -l mediant.io/tls-context=sbc-teams-strict-tls -o json | jq '.items | length')\" -ge 1 ]"
  local name index
  name="$(requests_of sbc-teams-strict-tls | jq -r '.[0].metadata.name')"
  index="$(k get tlscontext/sbc-teams-strict-tls -o jsonpath='{.status.contextIndex}')"
  sim_reset_counters 0
  k patch certificaterequest "$name" -n default --subresource=status --type=merge -p "$(jq -n '{status: {conditions: [
      {type: "Denied", status: "True", reason: "PolicyDenied", message: "strict.example.com is not allowed", lastTransitionTime: (now | todate)},
      {type: "Ready", status: "False", reason: "Denied", message: "denied by the approver", lastTransitionTime: (now | todate)}]}}')" >/dev/null
  wait_until 60 "Stalled=True CertificateRequestDenied" condition_is tlscontext/sbc-teams-strict-tls Stalled True CertificateRequestDenied
  condition_is tlscontext/sbc-teams-strict-tls Ready False CertificateRequestDenied || fail "Ready: $(condition_of tlscontext/sbc-teams-strict-tls Ready)"
  assert_contains "$(k get tlscontext/sbc-teams-strict-tls -o json | jq -r '.status.conditions[] | select(.type == "Ready") | .message')" "$name" "the Ready message names the request"
  assert_eq "$(sim_counters 0 | jq ".requests[\"PUT /api/v1/files/tls/$index/certificate\"] // 0")" 0 "certificate uploads after the denial"
  assert_eq "$(k get tlscontext/sbc-teams-strict-tls -o jsonpath='{.status.certificateRequest.state}')" Denied "status.certificateRequest.state"

  # No private key in status, events, CertificateRequests, Secrets of ours, or the logs.
  local shown
  shown="$(k get tlscontexts -n default -o json; k get events.events.k8s.io -n default -o json; k get certificaterequests -n default -o json;
    k get secrets -n default -l mediant.io/tls-context -o json | jq '.items[].data | map_values(@base64d)'; cat "$E2E_DIR"/operator-*.log)"
  if grep -q 'PRIVATE KEY' <<<"$shown"; then fail "a private key shows"; fi
}
