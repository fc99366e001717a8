{{/* The chart's name: nameOverride when set. */}}
{{- define "lastgasp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name: fullnameOverride when set, else the release name with the chart's (once). */}}
{{- define "lastgasp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "lastgasp.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object: the chart's, then commonLabels. */}}
{{- define "lastgasp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "lastgasp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
A component's ServiceAccount: serviceAccount.<component>.name when set, else the chart's name for it when the
chart creates it, else the namespace's default. (dict "root" $ "component" "receiver")
*/}}
{{- define "lastgasp.serviceAccountName" -}}
{{- $sa := index .root.Values.serviceAccount .component -}}
{{- if $sa.name -}}
{{- $sa.name -}}
{{- else if $sa.create -}}
{{- printf "%s-%s" (include "lastgasp.fullname" .root) .component -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "receiver"). */}}
{{- define "lastgasp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lastgasp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- /* By digest when one is given (the released chart pins its image so), else by tag. */}}
{{- define "lastgasp.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end -}}

{{/*
Settings as LASTGASP_* variables: each key of a config map is the operator setting of the same name
(allowedSourceCidrs -> LASTGASP_ALLOWED_SOURCE_CIDRS). Null and empty lists keep the operator's default.
*/}}
{{- define "lastgasp.settingsEnv" -}}
{{- range $key, $value := . }}
{{- if and (not (kindIs "invalid" $value)) (not (and (kindIs "slice" $value) (eq (len $value) 0))) }}
- name: LASTGASP_{{ $key | snakecase | upper }}
  value: {{ if kindIs "slice" $value }}{{ join "," $value | quote }}{{ else }}{{ toString $value | quote }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The pod's own name and namespace, for receivedBy, the leader identity and the leader Lease's namespace. */}}
{{- define "lastgasp.podEnv" -}}
- name: POD_NAME
  valueFrom: { fieldRef: { fieldPath: metadata.name } }
- name: POD_NAMESPACE
  valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
{{- end -}}

{{/* Restricted security context: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp. */}}
{{- define "lastgasp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{- define "lastgasp.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: { drop: [ALL] }
{{- end -}}

{{- define "lastgasp.probes" -}}
livenessProbe:
  httpGet: { path: /healthz, port: {{ . }} }
  periodSeconds: 10
readinessProbe:
  httpGet: { path: /readyz, port: {{ . }} }
  periodSeconds: 5
{{- end -}}

{{/* The agent's receivers: agent.config.receivers, else the receiver Service's fixed loadBalancerIP. */}}
{{- define "lastgasp.agentReceivers" -}}
{{- if .Values.agent.config.receivers -}}
{{- join "," .Values.agent.config.receivers -}}
{{- else if and .Values.receiver.service.enabled .Values.receiver.service.loadBalancerIP -}}
{{- printf "%s:6666" .Values.receiver.service.loadBalancerIP -}}
{{- else -}}
{{- fail "agent.enabled needs agent.config.receivers (host:port of each receiver as the nodes reach it) or receiver.service.loadBalancerIP" -}}
{{- end -}}
{{- end -}}

{{/*
The agent runs as root (configfs attributes and /dev/kmsg are root's, mode 0644) with a read-only root
filesystem. With the self-test it must be privileged: Kubernetes gives no other way through the device cgroup to
a host device such as /dev/kmsg. Without it, no capability at all, or only SYS_MODULE to load netconsole.
*/}}
{{- define "lastgasp.agentSecurityContext" -}}
runAsUser: 0
runAsNonRoot: false
readOnlyRootFilesystem: true
{{- if ne (toString .Values.agent.config.selfTest) "false" }}
privileged: true
{{- else }}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
  {{- if ne (toString .Values.agent.config.loadModule) "false" }}
  add: [SYS_MODULE]
  {{- end }}
{{- end }}
{{- end -}}

{{/* A pod's placement from a component's values: nodeSelector, tolerations, affinity (each only when set). */}}
{{- define "lastgasp.placement" -}}
{{- with .nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The pod template's metadata of every workload: its selector labels, podLabels and podAnnotations (plus the
workload's own annotations): (dict "root" $ "component" "receiver" "annotations" (dict ...)).
*/}}
{{- define "lastgasp.podMetadata" -}}
labels:
  {{- include "lastgasp.selectorLabels" (dict "root" .root "component" .component) | nindent 2 }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- $annotations := merge (dict) (.annotations | default dict) (.root.Values.podAnnotations | default dict) }}
{{- with $annotations }}
annotations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The pod-level settings every workload shares, from the top-level values and one component's (receiver,
reconciler or agent): pull secrets, priority class, host network and DNS policy, security context, placement and
spread. (dict "root" $ "values" .Values.receiver "component" "receiver" "hostNetwork" true "securityContext" "...")
*/}}
{{- /*
A Deployment's update strategy: the component's own when set; under hostNetwork, a RollingUpdate that replaces
before it surges (a surge pod on the same node could not bind the receiver's port, and the rollout would hang).
*/}}
{{- define "lastgasp.strategy" -}}
{{- if .values.strategy }}
strategy: {{- toYaml .values.strategy | nindent 2 }}
{{- else if .hostNetwork }}
strategy:
  type: RollingUpdate
  rollingUpdate: { maxSurge: 0, maxUnavailable: 1 }
{{- end }}
{{- end }}

{{- define "lastgasp.podSettings" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if .hostNetwork }}
hostNetwork: true
{{- end }}
{{- with (.values.dnsPolicy | default (ternary "ClusterFirstWithHostNet" "" (not (not .hostNetwork)))) }}
dnsPolicy: {{ . }}
{{- end }}
{{- if .securityContext }}
securityContext: {{- .securityContext | nindent 2 }}
{{- end }}
{{- include "lastgasp.placement" .values }}
{{- $spread := .values.topologySpreadConstraints }}
{{- if and (kindIs "invalid" $spread) (eq .component "receiver") }}
{{- /* Unset: receivers spread over nodes (and zones), so one node's failure takes at most one of them. */}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels: {{- include "lastgasp.selectorLabels" (dict "root" .root "component" .component) | nindent 8 }}
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels: {{- include "lastgasp.selectorLabels" (dict "root" .root "component" .component) | nindent 8 }}
{{- else if $spread }}
topologySpreadConstraints: {{- toYaml $spread | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The restricted pod security context, unless podSecurityContext overrides it (e.g. OpenShift's restricted SCC). */}}
{{- define "lastgasp.restrictedPodSecurityContext" -}}
{{- if .Values.podSecurityContext }}
{{- toYaml .Values.podSecurityContext }}
{{- else }}
{{- include "lastgasp.podSecurityContext" . }}
{{- end }}
{{- end -}}

{{/* The restricted container security context, unless securityContext overrides it. */}}
{{- define "lastgasp.restrictedContainerSecurityContext" -}}
{{- if .Values.securityContext }}
{{- toYaml .Values.securityContext }}
{{- else }}
{{- include "lastgasp.containerSecurityContext" . }}
{{- end }}
{{- end -}}

{{/* extraEnv, appended to every container's environment. */}}
{{- define "lastgasp.extraEnv" -}}
{{- with .Values.extraEnv }}
{{- toYaml . }}
{{- end }}
{{- end -}}

{{/*
Where a component's metrics are: (dict "root" $ "component" "reconciler") -> "component port", the pods' component
label and their named port. In combined mode the one pod (labelled receiver) serves the reconciler's on
http-reconciler.
*/}}
{{- define "lastgasp.metricsTarget" -}}
{{- if eq .component "receiver" -}}
receiver http
{{- else if .root.Values.combined -}}
receiver http-reconciler
{{- else -}}
reconciler http
{{- end -}}
{{- end -}}

{{- /*
A deleted receiver keeps listening receiver.drainSeconds before its SIGTERM: its endpoint is no longer ready,
so kube-proxy and load balancers move new packets (and kube-proxy drops the UDP flows) to the other receivers
meanwhile; what arrives until then is still heard. Node runs the wait: the image needs no shell or sleep.
*/}}
{{- define "lastgasp.receiverDrain" -}}
{{- if gt (int .Values.receiver.drainSeconds) 0 }}
lifecycle:
  preStop:
    exec: { command: [node, -e, "setTimeout(() => {}, {{ mul (int .Values.receiver.drainSeconds) 1000 }})"] }
{{- end }}
{{- end -}}

{{- /* The drain, the pending writes' grace (shutdownGraceSeconds), and 5 s to write the spool. */}}
{{- define "lastgasp.receiverGracePeriod" -}}
{{- add (int .Values.receiver.drainSeconds) (default 10 .Values.receiver.config.shutdownGraceSeconds) 5 }}
{{- end -}}

{{/*
The chart's alerts, as a YAML list the PrometheusRule renders with each one's overrides
(metrics.prometheusRule.alerts.<name>: enabled, for, severity). Every expression uses metrics the operator
registers (test/integration/chart-render.test.ts checks them, and promtool tests each alert: test/fixtures/alerts).
*/}}
{{- define "lastgasp.alerts" -}}
{{- $ns := printf "namespace=%q" .Release.Namespace }}
{{- $kind := .Values.metrics.monitor.kind }}
{{- $receiverJob := ternary (printf "%s/%s-receiver" .Release.Namespace (include "lastgasp.fullname" .)) (printf "%s-receiver-metrics" (include "lastgasp.fullname" .)) (eq $kind "PodMonitor") }}
- alert: LastgaspKernelPanic
  expr: >-
    (sum(increase(lastgasp_receiver_events_created_total{ {{- $ns }},result="created"}[5m])) or vector(0))
    + (sum(increase(lastgasp_reconciler_recovered_panics_total{ {{- $ns }},outcome="recorded"}[5m])) or vector(0)) > 0
  labels: { severity: warning }
  annotations:
    summary: A node's kernel panicked.
    description: "{{ "{{ $value }}" }} KernelPanicEvents were recorded in the last 5 minutes (heard over netconsole, or recovered from pstore or kdump after a reboot): kubectl get kernelpanicevents."
- alert: LastgaspPacketsDropped
  expr: sum by (reason) (increase(lastgasp_receiver_drops_total{ {{- $ns }},reason=~"rejected|queue_full"}[10m])) > 0
  labels: { severity: warning }
  annotations:
    summary: The receiver dropped what it should have recorded.
    description: "Drops with reason {{ "{{ $labels.reason }}" }}: a KernelPanicEvent may be missing (rejected by the API server, or the write queue was full)."
- alert: LastgaspNetconsoleSilent
  expr: sum(lastgasp_netconsole_silent_node{ {{- $ns }}}) > 0
  for: 15m
  labels: { severity: warning }
  annotations:
    summary: Nodes whose netconsole has not been heard.
    description: "{{ "{{ $value }}" }} nodes have not sent the agent's self-test: their panics would go unseen (Events NetconsoleSilent)."
{{- if and (ne (toString .Values.reconciler.config.probe) "false") (ne (toString .Values.reconciler.config.leaseCheck) "false") }}
- alert: LastgaspNodeWithoutLastWords
  expr: sum(lastgasp_node_without_last_words{ {{- $ns }}}) > 0
  for: 30m
  labels: { severity: warning }
  annotations:
    summary: Nodes that would keep no record of a panic.
    description: "{{ "{{ $value }}" }} nodes have neither netconsole heard nor pstore nor kdump (their agents say so): a panic there would leave no record at all. lastgasp coverage lists them."
- alert: LastgaspProbeBaselineLow
  expr: max(lastgasp_reconciler_probe_baseline_nodes{ {{- $ns }}}) < 0.9 * max(lastgasp_nodes{ {{- $ns }}})
  for: 15m
  labels: { severity: info }
  annotations:
    summary: Nodes whose kubelet port the reconciler's probe cannot reach.
    description: "Only {{ "{{ $value }}" }} nodes answered the probe recently: panics on the others wait out the Lease (~15 s). Let the reconciler reach the nodes' kubelet port."
{{- end }}
- alert: LastgaspRemediationRefused
  expr: sum by (result) (increase(lastgasp_reconciler_remediations_total{ {{- $ns }},result!~"remediated|dry_run|recovered"}[30m])) > 0
  labels: { severity: warning }
  annotations:
    summary: A panic was refused, nothing touched.
    description: "KernelPanicEvents refused with {{ "{{ $labels.result }}" }}: NodeAlive means forged or misattributed packets; kubectl get kpe shows why."
- alert: LastgaspCascadeHeld
  expr: sum(increase(lastgasp_reconciler_cascades_total{ {{- $ns }},action="held"}[30m])) > 0
  labels: { severity: critical }
  annotations:
    summary: A cascade of panics is waiting for a person.
    description: "A workload was on several nodes that panicked; the next node waits for approval (kubectl get kpe: STATUS CascadeSuspected)."
- alert: LastgaspNoLeader
  expr: (max(lastgasp_reconciler_leader{ {{- $ns }}}) or vector(0)) < 1
  for: 5m
  labels: { severity: critical }
  annotations:
    summary: No reconciler is leading.
    description: Panics are recorded but nobody remediates them.
- alert: LastgaspReceiverDown
  expr: (sum(up{ {{- $ns }},job="{{ $receiverJob }}"}) or vector(0)) < {{ max 1 (int .Values.receiver.replicas) }}
  for: 5m
  labels: { severity: critical }
  annotations:
    summary: Receivers are down.
    description: "Fewer receivers answer than are deployed: panics sent to the missing ones are lost."
{{- end -}}

{{/*
"true" when the agent reports the panics its node kept (agent.config.lastWords, on unless false): only where the
API server has ValidatingAdmissionPolicy, which keeps each agent's token to its own node's recovered panics.
Without it the agent gets no token and the setting is turned off.
*/}}
{{- define "lastgasp.agentLastWords" -}}
{{- if and .Values.agent.enabled (ne (toString .Values.agent.config.lastWords) "false") (.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy") -}}
true
{{- end -}}
{{- end -}}
