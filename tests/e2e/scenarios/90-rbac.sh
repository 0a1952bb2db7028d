# After everything above: the real authoriser never denied the operator a
# request (the chart's RBAC suffices), and every request was the
# ServiceAccount's own. The mix is printed for the record.

scenario rbac_no_denials
scenario_rbac_no_denials() {
  operator_up
  local mine denied
  # The operator's requests: its user, minus the scenarios' own kubectl
  # probes with its token (whoami, and a list of pods that must be denied).
  mine="$(audit_since 1 | jq -s --arg u "$OPERATOR_USER" \
    '[.[] | select(.user.username == $u and .stage == "ResponseComplete" and ((.userAgent // "") | startswith("kubectl/") | not))]')"
  [ "$(jq length <<<"$mine")" -gt 0 ] || fail "no request of $OPERATOR_USER in the audit log"
  denied="$(jq -c '[.[] | select(.responseStatus.code == 403) | "\(.verb) \(.requestURI)"]' <<<"$mine")"
  assert_eq "$denied" "[]" "requests the chart's RBAC denied"
  log "$(jq length <<<"$mine") requests of $OPERATOR_USER, none denied:"
  jq -r 'group_by("\(.verb) \(.objectRef.resource)\(if .objectRef.subresource then "/" + .objectRef.subresource else "" end)")
    | map("  \(length)\t\(.[0].verb) \(.[0].objectRef.resource)\(if .[0].objectRef.subresource then "/" + .[0].objectRef.subresource else "" end)") | .[]' <<<"$mine" >&2
}
