# The Helm chart, rendered and installed by Helm 4 against the real server.

CHART_DIR="$REPO/charts/mediant-operator"
RELEASE_NS=mediant-system
RELEASE=mediant-operator

h() { helm --kubeconfig "$E2E_ADMIN_KUBECONFIG" "$@"; }

# Non-default values touching every optional part of the chart.
write_custom_values() {
  cat >"$E2E_DIR/values-custom.yaml" <<'YAML'
replicaCount: 3
watchNamespace: voice
logFormat: text
logLevel: mediant_operator=debug
metricsPort: 9500
certManagerRecheck: 5m
image: {repository: registry.example/mediant-operator, tag: "1.2.3", pullPolicy: Always}
serviceAccount: {name: sbc-operator, annotations: {team: voice}}
service: {annotations: {prometheus.io/scrape: "true"}}
serviceMonitor: {enabled: true, interval: 15s, labels: {release: prometheus}}
prometheusRule:
  enabled: true
  labels: {release: prometheus}
  additionalRules:
    - {alert: MediantExtra, expr: "vector(1)", for: 5m, labels: {severity: info}}
grafanaDashboard: {enabled: true, labelKey: dashboards, labelValue: voice, annotations: {grafana_folder: Voice}}
podDisruptionBudget: {enabled: true, maxUnavailable: 2}
networkPolicy:
  enabled: true
  metricsFrom:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
  egress:
    - ports: [{port: 443, protocol: TCP}]
podLabels: {tier: control}
nodeSelector: {kubernetes.io/os: linux}
YAML
}

scenario helm_lint
scenario_helm_lint() {
  write_custom_values
  h lint --strict "$CHART_DIR"
  h lint --strict "$CHART_DIR" -f "$E2E_DIR/values-custom.yaml"
}

# A rendered manifest as one JSON List (offline: the server need not know
# every kind, e.g. ServiceMonitor).
as_list() { yaml2json | jq -s '{apiVersion: "v1", kind: "List", items: .}'; }
# Kinds of the documents of a rendered manifest, sorted, one per line.
kinds_of() { as_list | jq -r '.items[].kind' | sort; }

# The PrometheusRule and the dashboard ConfigMap of a rendered List: the
# rules keep Prometheus's own templates ($labels, unrendered by Helm), the
# ConfigMap carries the sidecar label $2=$3 and the dashboard as valid JSON,
# identical to dashboards/mediant-operator.json.
check_monitoring() {
  local json="$1" key="$2" value="$3" rule cm dashboard
  rule="$(jq -c '.items[] | select(.kind == "PrometheusRule")' <<<"$json")"
  assert_eq "$(jq -r .apiVersion <<<"$rule")" monitoring.coreos.com/v1 "PrometheusRule apiVersion"
  assert_contains "$(jq -r '.spec.groups[0].rules[0].annotations.summary' <<<"$rule")" '{{ $labels.namespace }}/{{ $labels.name }}' "alert annotations"
  assert_eq "$(jq -r '[.spec.groups[].rules[] | select(.alert != "MediantExtra" and (.labels.severity | IN("warning", "critical") | not))] | length' <<<"$rule")" \
    0 "the chart's alerts are warning or critical"
  cm="$(jq -c '.items[] | select(.kind == "ConfigMap")' <<<"$json")"
  assert_eq "$(jq -r --arg k "$key" '.metadata.labels[$k]' <<<"$cm")" "$value" "dashboard label"
  dashboard="$(jq -r '.data["mediant-operator.json"]' <<<"$cm")"
  jq -e . >/dev/null <<<"$dashboard" || fail "the dashboard ConfigMap holds invalid JSON"
  assert_eq "$(jq -r '.uid + " " + (.panels | length | tostring)' <<<"$dashboard")" "mediant-operator 7" "dashboard"
  assert_eq "$(jq -S . <<<"$dashboard")" "$(jq -S . "$CHART_DIR/dashboards/mediant-operator.json")" "dashboard as shipped"
}

scenario helm_template
scenario_helm_template() {
  write_custom_values
  k create namespace "$RELEASE_NS" --dry-run=client -o yaml | k apply -f - >/dev/null
  k create namespace voice --dry-run=client -o yaml | k apply -f - >/dev/null

  # Defaults: what the README promises, accepted by the server (dry run).
  local out kinds
  out="$(h template "$RELEASE" "$CHART_DIR" -n "$RELEASE_NS")"
  kinds="$(kinds_of <<<"$out" | tr '\n' ' ')"
  assert_eq "$kinds" "ClusterRole ClusterRoleBinding Deployment PodDisruptionBudget Role RoleBinding Service ServiceAccount " "default kinds"
  k apply --dry-run=server -f - <<<"$out" >/dev/null
  local deploy
  deploy="$(as_list <<<"$out" | jq -c '.items[] | select(.kind == "Deployment")')"
  assert_eq "$(jq -r .spec.replicas <<<"$deploy")" 2 "default replicas"
  assert_eq "$(jq -r '.spec.template.spec.containers[0].args | join(" ")' <<<"$deploy")" \
    "run --metrics-addr=0.0.0.0:9464 --log-format=json --lease-name=mediant-operator --digest-key-secret=mediant-operator-digest-key --cert-manager-recheck=60s" "default args"

  # Non-default values: a namespaced Role, the optional objects, the flags.
  out="$(h template "$RELEASE" "$CHART_DIR" -n "$RELEASE_NS" -f "$E2E_DIR/values-custom.yaml")"
  kinds="$(kinds_of <<<"$out" | tr '\n' ' ')"
  assert_eq "$kinds" "ConfigMap Deployment NetworkPolicy PodDisruptionBudget PrometheusRule Role Role RoleBinding RoleBinding Service ServiceAccount ServiceMonitor " "custom kinds"
  local json
  json="$(as_list <<<"$out")"
  deploy="$(jq -c '.items[] | select(.kind == "Deployment")' <<<"$json")"
  assert_eq "$(jq -r .spec.replicas <<<"$deploy")" 3 "custom replicas"
  assert_eq "$(jq -r '.spec.template.spec.containers[0].args | join(" ")' <<<"$deploy")" \
    "run --metrics-addr=0.0.0.0:9500 --log-format=text --lease-name=mediant-operator --digest-key-secret=mediant-operator-digest-key --cert-manager-recheck=5m --namespace=voice" "custom args"
  assert_eq "$(jq -r '.spec.template.spec.containers[0].image' <<<"$deploy")" "registry.example/mediant-operator:1.2.3" "image"
  assert_eq "$(jq -r '.spec.template.spec.serviceAccountName' <<<"$deploy")" "sbc-operator" "service account"
  assert_eq "$(jq -r '[.items[] | select(.kind == "Role") | .metadata.namespace] | sort | join(" ")' <<<"$json")" "mediant-system voice" "roles' namespaces"
  assert_eq "$(jq -r '.items[] | select(.kind == "NetworkPolicy") | .spec.policyTypes | join(" ")' <<<"$json")" "Ingress Egress" "policy types"
  assert_eq "$(jq -r '.items[] | select(.kind == "PodDisruptionBudget") | .spec.maxUnavailable' <<<"$json")" 2 "PDB"
  check_monitoring "$json" dashboards voice
  assert_eq "$(jq -r '.items[] | select(.kind == "PrometheusRule") | .metadata.labels.release' <<<"$json")" prometheus "rule labels"
  assert_eq "$(jq -r '.items[] | select(.kind == "ServiceMonitor") | .spec.endpoints[0].honorLabels' <<<"$json")" true "honorLabels"
  local rule
  rule="$(jq -c '.items[] | select(.kind == "PrometheusRule")' <<<"$json")"
  assert_eq "$(jq -r '[.spec.groups[].rules[].alert] | join(" ")' <<<"$rule")" \
    "MediantDeviceNotReady MediantDeviceDrift MediantTlsCertificateExpiringSoon MediantTlsCertificateExpiryCritical MediantReconcileErrors MediantDevicesUnreachable MediantOperatorDown MediantExtra" "alerts"
  # The scrape alert's job is the metrics Service's name (the Prometheus
  # Operator's default job label), and that Service is rendered.
  assert_eq "$(jq -r '.spec.groups[].rules[] | select(.alert == "MediantOperatorDown") | .expr' <<<"$rule")" \
    'absent(up{job="mediant-operator-metrics", namespace="mediant-system"} == 1)' "scrape alert"
  assert_eq "$(jq -r '.items[] | select(.kind == "Service") | .metadata.name' <<<"$json")" mediant-operator-metrics "metrics Service"
  assert_eq "$(jq -r '.items[] | select(.kind == "ConfigMap") | .metadata.annotations.grafana_folder' <<<"$json")" Voice "dashboard folder"
  # The server has no ServiceMonitor or PrometheusRule CRD (Prometheus
  # Operator): dry-run the rest (the dashboard's ConfigMap included).
  jq '.items |= map(select(.kind != "ServiceMonitor" and .kind != "PrometheusRule"))' <<<"$json" | k apply --dry-run=server -f - >/dev/null

  # Alerts and dashboard alone: the sidecar's default label; no scrape
  # alert without the ServiceMonitor whose job it names.
  json="$(h template "$RELEASE" "$CHART_DIR" -n "$RELEASE_NS" --set prometheusRule.enabled=true \
    --set grafanaDashboard.enabled=true | as_list)"
  check_monitoring "$json" grafana_dashboard 1
  assert_eq "$(jq -r '[.items[] | select(.kind == "PrometheusRule") | .spec.groups[].rules[].alert] | length' <<<"$json")" 6 "alerts without a ServiceMonitor"

  # One replica: no PodDisruptionBudget (it would block every drain).
  out="$(h template "$RELEASE" "$CHART_DIR" -n "$RELEASE_NS" --set replicaCount=1)"
  if grep -qx PodDisruptionBudget <<<"$(kinds_of <<<"$out")"; then fail "a PDB with one replica"; fi

  # values.schema.json: Helm refuses values that cannot work.
  local bad
  for bad in replicaCount=-1 logFormat=xml metricsPort=70000 image.pullPolicy=Sometimes \
    watchNamespace=Voice_Team replicas=2 podDisruptionBudget.maxUnavailable=half \
    prometheusRule.enabled=yes prometheusRule.additionalRules[0].for=5m \
    'grafanaDashboard.labelKey=a b' grafanaDashboard.sidecar=true certManagerRecheck=soon; do
    if out="$(h template "$RELEASE" "$CHART_DIR" --set "$bad" 2>&1)"; then
      fail "values.schema.json accepts $bad"
    fi
    assert_contains "$out" "values don't meet the specifications of the schema" "--set $bad"
  done
  log "values.schema.json rejects 12 bad values"
}

scenario helm_install
scenario_helm_install() {
  local out
  # No --wait: no kubelet runs, so no pod ever starts.
  out="$(h install "$RELEASE" "$CHART_DIR" -n "$RELEASE_NS" --create-namespace \
    --set image.repository=mediant-operator --set image.tag=dev)"
  assert_contains "$out" "STATUS: deployed" "helm install"
  assert_contains "$out" "one leader reconciles, the others stand by" "NOTES.txt"
  assert_eq "$(h status "$RELEASE" -n "$RELEASE_NS" -o json | jq -r .info.status)" deployed "release status"
  # Every object of the release exists in the server as Helm rendered it.
  local manifest n=0 kind name ns
  manifest="$(h get manifest "$RELEASE" -n "$RELEASE_NS")"
  while read -r kind name ns; do
    k get "$kind" "$name" ${ns:+-n "$ns"} >/dev/null || fail "$kind $name is missing"
    n=$((n + 1))
  done < <(as_list <<<"$manifest" |
    jq -r '.items[] | "\(.kind) \(.metadata.name) \(.metadata.namespace // "")"')
  log "$n objects of the release exist"
  assert_eq "$(k get deployment "$RELEASE" -n "$RELEASE_NS" -o jsonpath='{.spec.replicas}')" 2 "replicas"
  # The chart's CRD (from its crds/) is the one the server serves.
  k get crd mediantdevices.mediant.io >/dev/null
  # The ServiceAccount exists and may do what the controller needs, and no more.
  local sa="system:serviceaccount:$RELEASE_NS:$RELEASE"
  for allowed in "list mediantdevices.mediant.io -A" "watch secrets -A" "patch mediantdevices.mediant.io --subresource=status -n default" \
    "create events.events.k8s.io -n default" "update leases.coordination.k8s.io -n $RELEASE_NS" \
    "create secrets -n default"; do
    # shellcheck disable=SC2086
    assert_eq "$(k auth can-i $allowed --as "$sa")" yes "$sa may $allowed"
  done
  for denied in "update mediantdevices.mediant.io -n default" "patch mediantdevices.mediant.io -n default" \
    "delete secrets -n default" "update leases.coordination.k8s.io -n default" "delete leases.coordination.k8s.io -n $RELEASE_NS" \
    "list pods -A"; do
    # shellcheck disable=SC2086
    assert_eq "$(k auth can-i $denied --as "$sa" 2>/dev/null || true)" no "$sa must not $denied"
  done
}
