# Manifests: every example passes the real server's validation (OpenAPI
# schema, CEL rules, defaulting) with a server-side dry run, and each bad
# manifest under tests/e2e/bad/ is rejected with the CRD's own message.

# The YAML files under examples/ that Kubernetes itself can validate: the
# GitOps examples name kinds (Argo CD, Flux) this server has no CRD for, and
# are checked by scenario gitops_examples instead.
example_files() {
  find "$REPO/examples" -name '*.yaml' -not -path '*/gitops/*' | sort
}

# Each document on its own: one of a kind this server has no CRD for (a
# cert-manager Certificate) is reported as not validated, not failed; every
# other document must be accepted.
scenario examples_dry_run
scenario_examples_dry_run() {
  local f n=0 out doc accepted skipped
  k get crd mediantdevices.mediant.io >/dev/null 2>&1 || scenario_crds_established
  while read -r f; do
    accepted=0 skipped=""
    while read -r doc; do
      if out="$(k apply --dry-run=server -f - <<<"$doc" 2>&1)"; then
        accepted=$((accepted + 1))
      elif grep -q 'no matches for kind' <<<"$out" && ! jq -e '.apiVersion | startswith("mediant.io/")' <<<"$doc" >/dev/null; then
        skipped="$skipped $(jq -r '"\(.apiVersion) \(.kind)"' <<<"$doc")"
      else
        fail "examples: ${f#"$REPO"/} rejected: $out"
      fi
    done < <(yaml2json <"$f")
    log "${f#"$REPO"/}: $accepted object(s) accepted${skipped:+; not validated, no CRD here for:$skipped}"
    n=$((n + 1))
  done < <(example_files)
  [ "$n" -gt 0 ] || fail "no examples found"
}

# Valid objects of kinds without an example yet (tests/e2e/good/).
scenario good_manifests_dry_run
scenario_good_manifests_dry_run() {
  local f out
  for f in "$E2E_SRC"/good/*.yaml; do
    [ -e "$f" ] || continue
    out="$(k apply --dry-run=server -f "$f" 2>&1)" || fail "${f#"$REPO"/} rejected: $out"
    log "${f#"$REPO"/}: $(wc -l <<<"$out") object(s) accepted"
  done
}

# A bad manifest is tests/e2e/bad/<kind>/<name>.yaml, whose first line is
#   # expect: <text of the error the server must answer>
scenario cel_rejections
scenario_cel_rejections() {
  local f expect out n=0
  for f in "$E2E_SRC"/bad/*/*.yaml; do
    expect="$(sed -n '1s/^# expect: //p' "$f")"
    [ -n "$expect" ] || fail "${f#"$REPO"/}: first line must be '# expect: <message>'"
    if out="$(k apply --dry-run=server -f "$f" 2>&1)"; then
      fail "${f#"$REPO"/} was accepted: $out"
    fi
    assert_contains "$out" "$expect" "${f#"$REPO"/}"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || fail "no bad manifests found"
  log "$n bad manifests rejected with their messages"
}
