{{/*
Base name of every resource: "<release>-moletok", or "<release>" when the release name
already contains "moletok". At most 40 characters, so "<base>-transcoder-<hash>" pod
names and "<base>-mongodb-0" fit Kubernetes' 63.
*/}}
{{- define "moletok.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels. Args: dict "ctx" $ "component" <name> ["name" <app name, default moletok>] */}}
{{- define "moletok.selectorLabels" -}}
app.kubernetes.io/name: {{ .name | default "moletok" }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels. Same args as moletok.selectorLabels, plus optional "version". */}}
{{- define "moletok.labels" -}}
{{ include "moletok.selectorLabels" . }}
app.kubernetes.io/part-of: moletok
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- with .version }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Service names of the built-in dependencies. */}}
{{- define "moletok.natsHost" -}}{{ include "moletok.fullname" . }}-nats{{- end -}}
{{- define "moletok.mongodbHost" -}}{{ include "moletok.fullname" . }}-mongodb{{- end -}}
{{- define "moletok.redisHost" -}}{{ include "moletok.fullname" . }}-redis{{- end -}}
{{- define "moletok.minioHost" -}}{{ include "moletok.fullname" . }}-minio{{- end -}}

{{/*
A Secret value (base64) that survives upgrades. Args: list <existing data> <key> <given> <length>.
The given value wins; else the one already in the release's Secret (read with `lookup`);
else <length> random letters and digits (first install, and every `helm template`).
*/}}
{{- define "moletok.keptSecret" -}}
{{- $existing := index . 0 -}}
{{- $key := index . 1 -}}
{{- $given := index . 2 -}}
{{- if $given -}}
{{- $given | toString | b64enc -}}
{{- else if hasKey $existing $key -}}
{{- index $existing $key -}}
{{- else -}}
{{- randAlphaNum (index . 3) | b64enc -}}
{{- end -}}
{{- end -}}

{{/*
PUBLIC_BASE_URL, or "" to let the app derive it from S3_ENDPOINT and S3_BUCKET. The
built-in MinIO is only reachable from outside through the ingress, so without it the
value must be given.
*/}}
{{- define "moletok.publicBaseUrl" -}}
{{- $v := .Values -}}
{{- if $v.publicBaseUrl -}}
{{- $v.publicBaseUrl -}}
{{- else if $v.minio.enabled -}}
{{- if not (and $v.ingress.enabled $v.ingress.exposeMinio $v.ingress.host) -}}
{{- fail "publicBaseUrl is required when the built-in MinIO is not exposed through the ingress (ingress.enabled, ingress.exposeMinio and ingress.host): set it to an address phones can reach, e.g. https://media.example.com/moletok" -}}
{{- end -}}
{{- printf "%s://%s/%s" (ternary "https" "http" $v.ingress.tls.enabled) $v.ingress.host $v.s3.bucket -}}
{{- end -}}
{{- end -}}

{{/* "true" when the service (args: dict "root" $ "svc" <service values>) has an HPA, else "". */}}
{{- define "moletok.hpaEnabled" -}}
{{- if and .root.Values.autoscaling.enabled .svc.autoscaling.enabled -}}true{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds of a service (args: dict "root" $ "name" <name> "svc" <values>):
preStop sleep + ceil((shutdown delay + request drain [+ transcode grace]) / 1000) + margin.
*/}}
{{- define "moletok.graceSeconds" -}}
{{- $s := .root.Values.shutdown -}}
{{- $ms := add $s.delayMs $s.drainTimeoutMs -}}
{{- if eq .name "transcoder" -}}
{{- $ms = add $ms $s.transcodeGraceMs -}}
{{- end -}}
{{- add .svc.preStopSeconds (div (add $ms 999) 1000) $s.marginSeconds -}}
{{- end -}}

{{/* Image reference of a dependency or the test pod (args: its image values). */}}
{{- define "moletok.image" -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}

{{/* The volumeClaimTemplates (or nothing) of a built-in dependency. Args: dict "name" <volume> "persistence" <values>. */}}
{{- define "moletok.volumeClaim" -}}
{{- if .persistence.enabled }}
volumeClaimTemplates:
  - metadata:
      name: {{ .name }}
    spec:
      accessModes: [ReadWriteOnce]
      {{- with .persistence.storageClass }}
      storageClassName: {{ . | quote }}
      {{- end }}
      resources:
        requests:
          storage: {{ .persistence.size }}
{{- end }}
{{- end -}}

{{/* The volume of a built-in dependency without persistence. Args: as moletok.volumeClaim. */}}
{{- define "moletok.ephemeralVolume" -}}
{{- if not .persistence.enabled }}
volumes:
  - name: {{ .name }}
    emptyDir: {}
{{- end }}
{{- end -}}

{{/*
An environment value as a string. Whole numbers print as integers: YAML numbers arrive as
float64, which would otherwise print as 1e+06.
*/}}
{{- define "moletok.envValue" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) -}}
{{- int64 . | toString -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}
