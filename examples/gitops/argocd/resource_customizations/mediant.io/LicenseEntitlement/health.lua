-- Argo CD health check of mediant.io/LicenseEntitlement (Lua 5.1, as gopher-lua).
-- Maps the operator's kstatus conditions to Argo CD's health:
--   status for an older generation, no status yet, Reconciling=True,
--   Ready missing/Unknown                         -> Progressing
--   Stalled=True, or Ready=False for another cause -> Degraded
--   spec.suspend or annotation mediant.io/paused   -> Suspended
--   Ready=True                                     -> Healthy
local hs = {}

local function condition(conditions, type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the device's status"
  return hs
end
-- kstatus: a status written for an older generation says nothing about
-- the current spec.
if obj.metadata.generation ~= nil and status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. obj.metadata.generation
  return hs
end

local conditions = status.conditions
local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local paused = obj.metadata.annotations ~= nil and obj.metadata.annotations["mediant.io/paused"] == "true"
if (obj.spec ~= nil and obj.spec.suspend == true) or paused then
  hs.status = "Suspended"
  local synced = condition(conditions, "Synced")
  if synced ~= nil then
    hs.message = "Writes are paused; " .. describe(synced)
  else
    hs.message = "Writes are paused"
  end
  return hs
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end

local ready = condition(conditions, "Ready")
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
hs.status = "Degraded"
hs.message = describe(ready)
return hs
