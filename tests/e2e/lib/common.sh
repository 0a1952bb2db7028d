# Helpers shared by the end-to-end scenarios (sourced by tests/e2e/run.sh).

log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }

# Fails the current scenario with a message.
fail() {
  printf '[e2e %s] FAIL: %s\n' "$(date +%T)" "$*" >&2
  exit 1
}

# kubectl as the cluster admin (system:masters).
k() { kubectl --kubeconfig "$E2E_ADMIN_KUBECONFIG" "$@"; }

# kubectl as the operator's ServiceAccount (the chart's RBAC applies).
k_operator() { kubectl --kubeconfig "$E2E_OPERATOR_KUBECONFIG" "$@"; }

# A TCP port nobody listens on, from a range clear of the usual ones.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    if [ -z "$(ss -Htln "sport = :$p")" ]; then
      # Remember it, so two calls in a row never hand out the same port.
      if ! grep -qx "$p" "$E2E_DIR/ports" 2>/dev/null; then
        echo "$p" >>"$E2E_DIR/ports"
        echo "$p"
        return
      fi
    fi
  done
}

# Starts a background process, logging to $E2E_DIR/<name>.log, and records
# its pid so that the exit trap stops it. Sets SPAWNED_PID.
spawn() {
  local name="$1"
  shift
  "$@" >"$E2E_DIR/$name.log" 2>&1 &
  SPAWNED_PID=$!
  echo "$SPAWNED_PID $name" >>"$E2E_DIR/pids"
}

# Stops one process started by spawn (TERM, then KILL after 10 s).
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# Stops every process spawn started, newest first.
stop_all() {
  [ -f "$E2E_DIR/pids" ] || return 0
  local pid name
  tac "$E2E_DIR/pids" | while read -r pid name; do stop_pid "$pid"; done
  : >"$E2E_DIR/pids"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.25 s.
wait_until() {
  local secs="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail "timed out after ${secs}s waiting for $what"
    fi
    sleep 0.25
  done
}

# assert_eq ACTUAL EXPECTED DESCRIPTION
assert_eq() {
  [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"
}

# assert_contains HAYSTACK NEEDLE DESCRIPTION
assert_contains() {
  [[ "$1" == *"$2"* ]] || fail "$3: '$2' not found in: $1"
}

# The status of condition TYPE of a namespaced object: "status reason".
condition_of() {
  local ref="$1" type="$2" ns="${3:-default}"
  k get -n "$ns" "$ref" -o json |
    jq -r --arg t "$type" '(.status.conditions // [])[] | select(.type == $t) | "\(.status) \(.reason)"'
}

# condition_is REF TYPE STATUS [REASON [NS]]: true when it holds now.
condition_is() {
  local got
  got="$(condition_of "$1" "$2" "${5:-default}")"
  [ -n "$got" ] || return 1
  [ "${got%% *}" == "$3" ] || return 1
  [ -z "${4:-}" ] || [ "${got#* }" == "$4" ]
}

# in_sync_with_generation REF [NS]: status.observedGeneration == generation.
observed_current() {
  local ns="${2:-default}"
  k get -n "$ns" "$1" -o json | jq -e '.status.observedGeneration == .metadata.generation' >/dev/null
}

# The audit log's entries as JSON lines, from line FROM (1-based) on.
audit_since() { tail -n "+${1:-1}" "$E2E_DIR/audit.log"; }
audit_lines() { wc -l <"$E2E_DIR/audit.log"; }

# wait_established CRD: its Established condition is True. (`kubectl wait`
# alone fails while a just-created CRD has no conditions yet.)
wait_established() {
  wait_until 60 "crd/$1 Established" k wait --for=condition=Established --timeout=10s "crd/$1"
}
