# CRDs: every file of crds/ is accepted by the real server (structural
# schema, CEL compilation and cost budget), becomes Established, and is
# served through discovery and OpenAPI (kubectl explain).

# Each CRD's name (plural.group) and its kind, one "name kind" per line.
crd_names() {
  local f
  for f in "$REPO"/crds/*.yaml; do
    yaml2json <"$f" | jq -r 'select(.kind == "CustomResourceDefinition") | "\(.metadata.name) \(.spec.names.singular)"'
  done
}

# The server reports the version it was stamped with (unstamped, /version
# says v0.0.0-master and Helm's kubeVersion check in Chart.yaml fails).
scenario server_version
scenario_server_version() {
  local v
  v="$(k version -o json | jq -r .serverVersion.gitVersion)"
  assert_eq "$v" "$(kubectl version --client -o json | jq -r .clientVersion.gitVersion)" "server and kubectl versions"
  [[ "$v" == v1.37.* ]] || fail "kube-apiserver reports $v, not v1.37.x"
  log "kube-apiserver $v"
}

scenario crds_established
scenario_crds_established() {
  local out warnings
  out="$(k apply --server-side --field-manager=e2e -f "$REPO/crds/" 2>&1)" || fail "crds/ rejected: $out"
  echo "$out" >&2
  # The server accepts but warns about what it does not understand (e.g.
  # an OpenAPI format it does not know, such as schemars' `uint32`): the
  # generated CRDs must draw no warning at all.
  warnings="$(grep '^Warning:' <<<"$out" || true)"
  [ -z "$warnings" ] || fail "the API server warned about crds/: $(tr '\n' ';' <<<"$warnings")"
  local name singular
  while read -r name singular; do
    wait_established "$name"
    k wait --for=condition=NamesAccepted --timeout=60s "crd/$name" >/dev/null
    log "$name established"
  done < <(crd_names)
}

scenario crds_explain
scenario_crds_explain() {
  local name singular out
  while read -r name singular; do
    # Discovery and the published OpenAPI lag the Established condition.
    wait_until 60 "kubectl explain $singular.spec" k explain "$singular.spec"
    out="$(k explain "$singular.spec")"
    assert_contains "$out" "FIELDS:" "kubectl explain $singular.spec"
    log "kubectl explain $singular.spec: $(grep -c '<' <<<"$out") fields"
  done < <(crd_names)
  # The documented fields of MediantDevice, with their descriptions.
  out="$(k explain mediantdevice.spec)"
  for field in endpoint credentialsSecretRef resetPolicy suspend ini cliScript interval; do
    assert_contains "$out" "$field" "kubectl explain mediantdevice.spec"
  done
  assert_contains "$(k explain mediantdevice.spec.endpoint)" "REST API" "the endpoint's description"
  assert_contains "$(k explain mediantdevice.status.conditions)" "observedGeneration" "status conditions"
  # INI text from Secrets (issue 12): the field and its item's keys.
  assert_contains "$(k explain mediantdevice.spec.ini.secretRefs)" "Keys of Secrets" "ini.secretRefs"
  assert_contains "$(k explain mediantdevice.spec.ini.secretRefs)" "key" "ini.secretRefs items"
}
