-- ArgoCD health check for the kinds of access.hwcloud.dev (hwcloud-access-operator), read from
-- the conditions the operator writes (Ready, Synced and kstatus's Stalled). The same script
-- serves all four kinds; deploy/argocd/values-argocd.yaml carries it into argocd-cm
-- (render_values.py). It uses only what Argo CD opens for an argocd-cm health check: the base
-- and table libraries (no string, math or os).
--   Healthy      Ready=True for the current generation, and not being deleted
--   Suspended    reconciliation paused (reason ReconcilePaused)
--   Degraded     Stalled=True, or a reason that waits for a change of the spec, a Secret or
--                permissions; DeleteBlocked: the cloud refuses the delete
--   Progressing  anything else: no status yet, generation not observed yet, applying,
--                creating, deleting, cloud busy, dependency not ready, in use
-- (Argo CD's controller shows an object being deleted as Progressing "Pending deletion"
-- without running this script; the Deleting and DeleteBlocked answers are for the rest.)
local hs = {}

-- Ready reasons that are Degraded even without a Stalled condition. Today the operator
-- writes Stalled=True beside each of them (reconcile/conditions.py, STALLED); this table
-- reads statuses written by a version before that, which wrote no Stalled (and
-- Reconciling for ReconcileError).
local terminal = {
  InvalidSpec = true,     -- input the schema could not catch, or the cloud refused
  AuthFailed = true,      -- the cloud refused the credentials
  AccessDenied = true,    -- the credentials lack permission
  NotFound = true,        -- managementPolicy Observe and no such cloud object
  AlreadyExists = true,   -- a same-named cloud object it did not make (adoptionPolicy Never)
  AlreadyOwned = true,    -- another resource of the cluster manages the same cloud object
  AccountNotAllowed = true, -- the account does not admit the resource's namespace
  ReconcileError = true,  -- unexpected failure, not retried
  DeleteBlocked = true,   -- the cloud refuses the delete: retried, but needs someone to look
}

local function find(conditions, kind)
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or "Unknown"
  if c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  return reason
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local ready = find(obj.status.conditions, "Ready")
local synced = find(obj.status.conditions, "Synced")
if ready == nil then
  -- kstatus: before its first pass the object may read as Reconciling (a CRD default)
  local reconciling = find(obj.status.conditions, "Reconciling")
  hs.status = "Progressing"
  hs.message = reconciling and describe(reconciling) or "Waiting for the Ready condition"
  return hs
end

if ready.reason == "ReconcilePaused" or (synced ~= nil and synced.reason == "ReconcilePaused") then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end

local generation = obj.metadata.generation
local observed = ready.observedGeneration
if observed == nil and obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

if ready.status == "True" and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: waiting for the operator"
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

-- kstatus: cannot converge without a change. Its reason and message are Ready's.
local stalled = find(obj.status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

if terminal[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready)
return hs
