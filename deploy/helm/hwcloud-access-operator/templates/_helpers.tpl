{{/* Chart name, possibly overridden. */}}
{{- define "hwcloud-access.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, with the chart name unless it contains it. */}}
{{- define "hwcloud-access.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hwcloud-access.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hwcloud-access.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hwcloud-access.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hwcloud-access.labels" -}}
helm.sh/chart: {{ include "hwcloud-access.chart" . }}
{{ include "hwcloud-access.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "hwcloud-access.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hwcloud-access.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hwcloud-access.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* kopf peering: on for more than one replica (one active, the others on standby). */}}
{{- define "hwcloud-access.peering" -}}
{{- if or .Values.peering.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{- define "hwcloud-access.peeringName" -}}
{{- default (include "hwcloud-access.fullname" .) .Values.peering.name }}
{{- end }}

{{/* The pods' affinity: .Values.affinity, and with more than one replica a podAntiAffinity
across nodes (podAntiAffinity: preferred or required) unless affinity has one of its own. */}}
{{- define "hwcloud-access.affinity" -}}
{{- $affinity := deepCopy .Values.affinity }}
{{- if and (gt (int .Values.replicaCount) 1) (ne .Values.podAntiAffinity "none") (not (hasKey $affinity "podAntiAffinity")) }}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "hwcloud-access.selectorLabels" . | fromYaml)) }}
{{- if eq .Values.podAntiAffinity "required" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) }}
{{- else }}
{{- $_ := set $affinity "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) }}
{{- end }}
{{- end }}
{{- with $affinity }}{{ toYaml . }}{{ end }}
{{- end }}

{{/* The Secret whose keys become the operator's HW_* variables (its default account). */}}
{{- define "hwcloud-access.defaultAccountSecret" -}}
{{- if .Values.defaultAccount.existingSecret }}
{{- .Values.defaultAccount.existingSecret }}
{{- else if .Values.defaultAccount.create }}
{{- printf "%s-default-account" (include "hwcloud-access.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
RBAC rules, one block per purpose, shared by the ClusterRole (all namespaces) and the
per-namespace Roles (watchNamespaces). Each is exactly what the operator calls; see the
README's "Install with Helm" for why.
*/}}
{{- define "hwcloud-access.rules.namespacedKinds" -}}
# The three namespaced kinds: kopf lists and watches them and patches finalizers and its
# annotations; the operator reads groups (groupRef) and patches a wake-up annotation.
- apiGroups: ["access.hwcloud.dev"]
  resources: ["vpnusergroups", "vpnusers", "mqusers"]
  verbs: ["get", "list", "watch", "patch"]
# Their status subresource: conditions, observedGeneration, cloud IDs.
- apiGroups: ["access.hwcloud.dev"]
  resources: ["vpnusergroups/status", "vpnusers/status", "mqusers/status"]
  verbs: ["patch"]
{{- end }}

{{- define "hwcloud-access.rules.accounts" -}}
# HuaweiCloudAccount (cluster-scoped): kopf watches it and patches it, the operator reads it
# for a resource's accountRef.
- apiGroups: ["access.hwcloud.dev"]
  resources: ["huaweicloudaccounts"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["access.hwcloud.dev"]
  resources: ["huaweicloudaccounts/status"]
  verbs: ["patch"]
{{- end }}

{{- define "hwcloud-access.rules.namespaces" -}}
# Namespaces: their labels decide which HuaweiCloudAccounts admit them (allowedNamespaces);
# kopf also matches --namespace against them.
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- end }}

{{- define "hwcloud-access.rules.secrets" -}}
# Secrets: get the ones the specs name (passwords, secret keys, account credentials), by name;
# create the generated ones (owned by their resource; garbage-collected with it); list+watch
# for kopf's watch, which asks only for access.hwcloud.dev/credentials=true (RBAC cannot limit
# get to a changing set of names, nor list/watch to a label: the operator's requests do).
# Never update, patch or delete.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create"]
{{- end }}

{{- define "hwcloud-access.rules.events" -}}
# Events (core v1) that kopf posts for the operator: Created, Updated, Deleted, warnings.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{- define "hwcloud-access.rules.crds" -}}
# kopf notices CRDs being added, changed or removed (read-only).
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- end }}

{{/* PromQL label matchers that pick this release's series: as a ServiceMonitor scrape labels
them (job: the metrics Service's name), unless prometheusRule.selector says otherwise. */}}
{{- define "hwcloud-access.metricsSelector" -}}
{{- $job := printf "%s-metrics" (include "hwcloud-access.fullname" .) }}
{{- default (printf "job=%q, namespace=%q" $job .Release.Namespace) .Values.prometheusRule.selector }}
{{- end }}

{{/* One alert's name, labels and annotations (dict: root, alert, severity, summary,
description); its runbook is the README section named after it. */}}
{{- define "hwcloud-access.alert" -}}
{{- $values := .root.Values.prometheusRule }}
{{- $base := required "prometheusRule.runbookBaseUrl is required: where this repository's README is served (each alert links to its runbook there), e.g. https://git.example.com/platform/hwcloud-access-operator/-/blob/main/README.md" $values.runbookBaseUrl -}}
alert: {{ .alert }}
labels:
  {{- merge (dict "severity" .severity) (default dict $values.alertLabels) | toYaml | nindent 2 }}
annotations:
  summary: {{ .summary | quote }}
  description: {{ .description | quote }}
  runbook_url: {{ printf "%s#%s" $base (lower .alert) | quote }}
{{- end }}
