-- Argo CD health check for KernelPanicEvent (lastgasp.dev/v1alpha1), in Argo CD's resource_customizations
-- layout (health_test.yaml beside it). Install it in argocd-cm as
--   resource.customizations.health.lastgasp.dev_KernelPanicEvent: |
--     <this file>
-- Healthy: remediated (or a dry run reported). Progressing: the reconciler is at work (the Lease check, the
-- remediation itself). Suspended: waiting for a person (storm guard, forgery hold, cascade hold: annotate
-- lastgasp.dev/approve="true"). Degraded: refused (node not found, alive, excluded...) - a person should look.
local working = { InProgress = true, WaitingForLease = true }
local approval = { StormGuard = true, ApprovalRequired = true, CascadeSuspected = true }
local hs = { status = "Progressing", message = "Waiting for the reconciler" }
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Remediated" then
      if c.status == "True" or c.reason == "DryRun" then
        hs.status = "Healthy"
      elseif working[c.reason] then
        hs.status = "Progressing"
      elseif approval[c.reason] then
        hs.status = "Suspended"
      else
        hs.status = "Degraded"
      end
      hs.message = c.reason .. ": " .. c.message
    end
  end
end
return hs
