# A real control plane on loopback, started the way controller-runtime's
# envtest starts one: etcd plus kube-apiserver (no scheduler, no
# controller-manager, no kubelet), secure port on 127.0.0.1, RBAC
# authorisation, a generated CA with serving and client certificates,
# service-account signing keys (so TokenRequest works) and an audit log.
# Sourced by tests/e2e/run.sh; needs E2E_DIR and the binaries on PATH.

cp_certs() {
  local d="$E2E_DIR/pki"
  mkdir -p "$d"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
    -subj "/CN=mediant-e2e-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  # leaf NAME SUBJECT EXTENSIONS
  leaf() {
    openssl req -new "${ec[@]}" -keyout "$d/$1.key" -out "$d/$1.csr" -subj "$2" 2>/dev/null
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -days 2 -out "$d/$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
  }
  leaf apiserver "/CN=kube-apiserver" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.0.0.1
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
  # The admin: system:masters bypasses RBAC, as in envtest.
  leaf admin "/O=system:masters/CN=mediant-e2e-admin" \
    "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
  # ServiceAccount tokens are signed with an RSA key.
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

cp_start() {
  cp_certs
  local d="$E2E_DIR/pki"
  local etcd_port peer_port
  etcd_port="$(free_port)"
  peer_port="$(free_port)"
  log "etcd on 127.0.0.1:$etcd_port (data in $E2E_DIR/etcd, no fsync)"
  spawn etcd etcd --name e2e --data-dir "$E2E_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "e2e=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync --log-level warn --quota-backend-bytes=1073741824
  local etcd_pid=$SPAWNED_PID
  until curl -fsS "http://127.0.0.1:$etcd_port/health" >/dev/null 2>&1; do
    kill -0 "$etcd_pid" 2>/dev/null || fail "etcd exited: $(tail -n 3 "$E2E_DIR/etcd.log")"
    sleep 0.25
  done

  # Audit every request but the API server's own, at Metadata level: the
  # scenarios count the operator's writes and look for denied requests.
  # (ResponseStarted is kept: it is how a watch shows while it runs.)
  cat >"$E2E_DIR/audit-policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:apiserver"]
  - level: Metadata
YAML
  : >"$E2E_DIR/audit.log"
  E2E_API_PORT="$(free_port)"
  E2E_API_URL="https://127.0.0.1:$E2E_API_PORT"
  log "kube-apiserver on $E2E_API_URL"
  spawn kube-apiserver kube-apiserver \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --secure-port="$E2E_API_PORT" --advertise-address=127.0.0.1 \
    --cert-dir="$E2E_DIR/apiserver-certs" \
    --tls-cert-file="$d/apiserver.crt" --tls-private-key-file="$d/apiserver.key" \
    --client-ca-file="$d/ca.crt" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$d/sa.pub" --service-account-signing-key-file="$d/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --audit-policy-file="$E2E_DIR/audit-policy.yaml" --audit-log-path="$E2E_DIR/audit.log" \
    --audit-log-format=json --audit-log-mode=blocking \
    --profiling=false --v=0
  local pid=$SPAWNED_PID t0=$SECONDS
  until curl -fsS --cacert "$d/ca.crt" --cert "$d/admin.crt" --key "$d/admin.key" "$E2E_API_URL/readyz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail "kube-apiserver exited: $(grep -m1 'command failed\|^E' "$E2E_DIR/kube-apiserver.log")"
    [ $((SECONDS - t0)) -lt 180 ] || fail "kube-apiserver not ready after 180s"
    sleep 0.5
  done
  log "kube-apiserver ready after $((SECONDS - t0))s"

  E2E_ADMIN_KUBECONFIG="$E2E_DIR/admin.kubeconfig"
  local kc=(--kubeconfig "$E2E_ADMIN_KUBECONFIG")
  kubectl "${kc[@]}" config set-cluster e2e --server="$E2E_API_URL" --certificate-authority="$d/ca.crt" --embed-certs >/dev/null
  kubectl "${kc[@]}" config set-credentials admin --client-certificate="$d/admin.crt" --client-key="$d/admin.key" --embed-certs >/dev/null
  kubectl "${kc[@]}" config set-context e2e --cluster=e2e --user=admin --namespace=default >/dev/null
  kubectl "${kc[@]}" config use-context e2e >/dev/null
  export E2E_ADMIN_KUBECONFIG E2E_API_URL E2E_API_PORT
  # The bootstrap controller creates "default" shortly after /readyz.
  wait_until 60 "namespace default" k get namespace default
}

# A kubeconfig for ServiceAccount NS/NAME, with a token the real server
# issues (TokenRequest), so every request is authorised by the chart's RBAC.
cp_serviceaccount_kubeconfig() {
  local ns="$1" name="$2" out="$3"
  local token
  token="$(k create token "$name" -n "$ns" --duration=2h)"
  local kc=(--kubeconfig "$out")
  kubectl "${kc[@]}" config set-cluster e2e --server="$E2E_API_URL" --certificate-authority="$E2E_DIR/pki/ca.crt" --embed-certs >/dev/null
  kubectl "${kc[@]}" config set-credentials "$name" --token="$token" >/dev/null
  kubectl "${kc[@]}" config set-context e2e --cluster=e2e --user="$name" --namespace="$ns" >/dev/null
  kubectl "${kc[@]}" config use-context e2e >/dev/null
}
