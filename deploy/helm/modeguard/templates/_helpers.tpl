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

{{/*
The agentImages value, checked: image patterns (workload.CheckImagePattern)
that the settings and the webhooks' matchConditions both receive.
*/}}
{{- define "modeguard.agentImages" -}}
{{- range .Values.agentImages -}}
{{- if not (regexMatch "^[A-Za-z0-9._/:@*-]*[A-Za-z0-9][A-Za-z0-9._/:@*-]*$" .) -}}
{{- fail (printf "agentImages: %q: want a glob of letters, digits, . _ - / : @ and *, with a letter or digit" .) -}}
{{- end -}}
{{- end -}}
{{- toJson (default list .Values.agentImages) -}}
{{- end }}

{{/*
The CEL test of one container c that may run an agent (the CEL twin of
workload's recognition, wider where a string test cannot tell): an agent
image, or one matching an agentImages pattern (as a regular expression: *
matches any run of characters but /, every other character itself); a
command naming an agent binary; the Alloy chart's env var.
*/}}
{{- define "modeguard.agentContainer" -}}
(has(c.image) &&
 (c.image.lowerAscii().contains('grafana/agent') || c.image.lowerAscii().contains('grafana/alloy')
 {{- range (include "modeguard.agentImages" . | fromJsonArray) }} ||
  c.image.matches('^{{ . | replace "." "[.]" | replace "*" "[^/]*" }}$')
 {{- end }})) ||
(has(c.command) && size(c.command) > 0 &&
 (c.command[0].endsWith('alloy') || c.command[0].endsWith('grafana-agent') || c.command[0].endsWith('grafana-agent-flow'))) ||
(has(c.env) && c.env.exists(e, e.name == 'ALLOY_DEPLOY_MODE'))
{{- end }}

{{/*
The requestTimeout value (like 2500ms or 2s), checked against
timeoutSeconds: the webhook must answer (by its --failure-policy at worst)
before the API server stops waiting and applies its own failurePolicy.
*/}}
{{- define "modeguard.requestTimeout" -}}
{{- $v := toString .Values.requestTimeout -}}
{{- $ms := 0 -}}
{{- if regexMatch "^[0-9]+ms$" $v -}}
{{- $ms = trimSuffix "ms" $v | atoi -}}
{{- else if regexMatch "^[0-9]+s$" $v -}}
{{- $ms = mul (trimSuffix "s" $v | atoi) 1000 -}}
{{- else -}}
{{- fail (printf "requestTimeout: %q: want milliseconds or seconds, like 2500ms or 2s" $v) -}}
{{- end -}}
{{- if or (lt $ms 100) (ge $ms (mul (int .Values.timeoutSeconds) 1000)) -}}
{{- fail (printf "requestTimeout %s must be at least 100ms and below timeoutSeconds (%ds): the API server stops waiting at timeoutSeconds and its failurePolicy answers instead of the webhook" $v (int .Values.timeoutSeconds)) -}}
{{- end -}}
{{- $v -}}
{{- end }}
