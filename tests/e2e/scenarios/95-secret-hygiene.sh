# After everything above: no secret value of any Secret the suite applied
# (device passwords, TLS private keys, licence keys, INI text from Secrets)
# appears in anything the operator produced — its logs, the events of every
# namespace, or the status of every mediant.io object. The values are read
# from the cluster, so a Secret a new scenario or example adds is covered
# without a change here.

scenario secret_hygiene
scenario_secret_hygiene() {
  local needles outputs hits marker
  operator_up
  # A planted marker the operator must use and fail with (the error path
  # is where values leak: 401 texts, conditions, events).
  marker="e2e-planted-$RANDOM$RANDOM-password"
  k patch secret sbc-teams-credentials --type=merge -p "{\"stringData\":{\"password\":\"$marker\"}}" >/dev/null
  wait_until 30 "Unauthorized with the planted password" condition_is "$DEV" Ready False Unauthorized
  needles="$E2E_DIR/secret-needles.txt"
  outputs="$E2E_DIR/operator-outputs.txt"
  # Needles: every Secret value except public ones (certificates, CSRs,
  # user names) — a one-line value of 8+ characters whole, a multi-line one
  # (a PEM key, an INI text) by each line of 24+ characters that is not a
  # PEM armour line or an INI section/FORMAT line (those are not secret).
  k get secrets -A -o json | python3 -c '
import base64, json, sys
public = {"tls.crt", "ca.crt", "tls.csr", "username", "user"}
out = set()
for item in json.load(sys.stdin)["items"]:
    for key, value in (item.get("data") or {}).items():
        if key in public:
            continue
        try:
            text = base64.b64decode(value).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue  # binary (e.g. the digest key): never printed as text either
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        if len(lines) == 1 and len(lines[0]) >= 8:
            out.add(lines[0])
        elif len(lines) > 1:
            for l in lines:
                if len(l) >= 24 and not l.startswith(("-----", "[", "FORMAT", ";")):
                    out.add(l)
print("\n".join(sorted(out)))
' >"$needles"
  grep -qxF "$marker" "$needles" || fail "the planted marker is not among the needles"
  # The matcher finds a needle where there is one (this check can fail).
  [ -n "$(printf 'status: %s\n' "$marker" | grep -F -o -f "$needles")" ] || fail "the matcher misses a planted value"
  {
    cat "$E2E_DIR"/operator-*.log
    k get events.events.k8s.io -A -o json
    k get events -A -o json
    local kind
    for kind in mediantdevices tlscontexts licenseentitlements; do
      k get "$kind" -A -o json | jq '[.items[].status]'
    done
  } >"$outputs"
  hits="$(grep -F -o -f "$needles" "$outputs" | sort -u | sed 's/^\(.\{4\}\).*/\1…/' || true)"
  k patch secret sbc-teams-credentials --type=merge -p '{"stringData":{"password":"Admin"}}' >/dev/null
  wait_until 30 "Ready again with the right password" condition_is "$DEV" Ready True
  [ -z "$hits" ] || fail "secret values in the operator's output (first 4 characters shown): $(tr '\n' ' ' <<<"$hits")"
  log "$(wc -l <"$needles") secret values from $(k get secrets -A -o name | wc -l) Secrets: none in $(wc -c <"$outputs") bytes of logs, events and status"
}
