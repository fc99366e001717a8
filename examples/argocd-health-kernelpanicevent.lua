-- Argo CD health check for KernelPanicEvent (lastgasp.dev/v1alpha1). Install it in argocd-cm as
--   resource.customizations.health.lastgasp.dev_KernelPanicEvent: |
--     <this file>
-- Healthy: remediated (or a dry run reported). Progressing: waiting for the Lease check, the storm guard or an
-- approval (forgery hold, cascade hold). Degraded: refused (node not found, alive, excluded...) - a person should look.
local waiting = { InProgress = true, WaitingForLease = true, StormGuard = true, ApprovalRequired = true, CascadeSuspected = true }
local hs = { status = "Progressing", message = "Waiting for the reconciler" }
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Remediated" then
      if c.status == "True" or c.reason == "DryRun" then
        hs.status = "Healthy"
      elseif waiting[c.reason] then
        hs.status = "Progressing"
      else
        hs.status = "Degraded"
      end
      hs.message = c.reason .. ": " .. c.message
    end
  end
end
return hs
