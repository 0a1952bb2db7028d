# kstatus conformance on the live objects, after every operator scenario
# above (Ready, spec edit, Secret edit, bad spec, suspend, interval edit,
# handover) has left its states in the watch started by operator_ready.

# Every MediantDevice as the watch saw it, one compact JSON per line.
watched_objects() {
  jq -c 'select(.object.kind == "MediantDevice") | .object' "$E2E_DIR/watch-devices.log"
}

# kstatus, on the states the watch recorded: a status for an older
# generation means in progress (and Argo CD's check says Progressing); the
# Ready condition is in the first status written and in every one after.
scenario kstatus_conformance
scenario_kstatus_conformance() {
  operator_up
  [ -s "$E2E_DIR/watch-devices.log" ] || fail "no watch recorded (run operator_ready first)"
  local obj lagging=0 states=0 health first_status_seen="" seen_health=""
  while read -r obj; do
    states=$((states + 1))
    local name gen og
    name="$(jq -r .metadata.name <<<"$obj")"
    gen="$(jq -r .metadata.generation <<<"$obj")"
    og="$(jq -r '.status.observedGeneration // empty' <<<"$obj")"
    health="$(argocd_health <<<"$obj")"
    seen_health="$seen_health ${health%%$'\t'*}"
    if [ -z "$og" ]; then
      assert_eq "${health%%$'\t'*}" Progressing "$name without status"
      continue
    fi
    jq -e '[.status.conditions[]? | select(.type == "Ready")] | length == 1' <<<"$obj" >/dev/null ||
      fail "$name: a status (generation $og) without the Ready condition"
    jq -e '.metadata.generation as $g | [.status.conditions[]? | select(.observedGeneration > $g)] | length == 0' <<<"$obj" >/dev/null ||
      fail "$name: a condition claims a future generation"
    if [ "$og" -lt "$gen" ]; then
      lagging=$((lagging + 1))
      assert_eq "${health%%$'\t'*}" Progressing "$name at generation $gen with status for $og"
    fi
    [[ " $first_status_seen " == *" $name "* ]] || first_status_seen="$first_status_seen $name"
  done < <(watched_objects)
  [ "$lagging" -gt 0 ] || fail "the watch never saw a status lagging its generation (the spec edit should have)"
  # The live objects went through every state Argo CD distinguishes.
  local h
  for h in Healthy Progressing Degraded Suspended; do
    [[ " $seen_health " == *" $h "* ]] || fail "no watched state was $h for Argo CD's health check"
  done
  log "Argo CD health of the watched states:$(tr ' ' '\n' <<<"$seen_health" | grep . | sort | uniq -c | awk '{printf " %s=%s", $2, $1}')"
  log "$states watched states; $lagging in progress (observedGeneration < generation); first statuses of:$first_status_seen all had Ready"
}

