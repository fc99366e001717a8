{{/* The release's base name. */}}
{{- define "lastgasp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "lastgasp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "receiver"). */}}
{{- define "lastgasp.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
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
