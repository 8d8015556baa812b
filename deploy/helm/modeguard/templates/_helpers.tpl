{{/*
Labels on every object. The object names are fixed (modeguard,
modeguard-webhook, ...): the webhook finds its configurations, Secret and
Service by these names, so one release per cluster.
*/}}
{{- define "modeguard.labels" -}}
app.kubernetes.io/name: modeguard
app.kubernetes.io/part-of: modeguard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "modeguard.selectorLabels" -}}
app.kubernetes.io/name: modeguard
app.kubernetes.io/component: webhook
{{- end }}

{{/* The certificate mode, checked. */}}
{{- define "modeguard.certMode" -}}
{{- if not (has .Values.certMode (list "self-managed" "cert-manager")) -}}
{{- fail (printf "certMode must be self-managed or cert-manager, not %q" .Values.certMode) -}}
{{- end -}}
{{- .Values.certMode -}}
{{- end }}
