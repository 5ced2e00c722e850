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
{{- define "moletok.objectStoreHost" -}}{{ include "moletok.fullname" . }}-s3{{- end -}}

{{/* The Secret every pod reads credentials from: existingSecret, or the chart's own. */}}
{{- define "moletok.secretName" -}}
{{- .Values.existingSecret | default (include "moletok.fullname" .) -}}
{{- end -}}

{{/* The ServiceAccount of the MoleTok pods. */}}
{{- define "moletok.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "moletok.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
TRANSPORTER of the MoleTok pods: NATS with the user of nats.auth and $(NATS_PASSWORD), which
the kubelet fills in from the Secret (envFrom), so no credential is in a ConfigMap or a value.
*/}}
{{- define "moletok.transporter" -}}
{{- $v := .Values -}}
{{- $hostPort := printf "%s:4222" (include "moletok.natsHost" .) -}}
{{- if not $v.nats.enabled -}}
{{- $url := urlParse $v.nats.url -}}
{{- $hostPort = ternary $url.host (printf "%s:4222" $url.host) (contains ":" $url.host) -}}
{{- end -}}
{{- printf "nats://%s:$(NATS_PASSWORD)@%s" $v.nats.auth.user $hostPort -}}
{{- end -}}

{{/*
A Secret value (base64) that survives upgrades. Args: list <existing data> <key> <given> <length>
[<first letter>]. The given value wins; else the one already in the release's Secret (read
with `lookup`); else <length> random letters and digits, starting with <first letter> when
given (first install, and every `helm template`).
*/}}
{{- define "moletok.keptSecret" -}}
{{- $existing := index . 0 -}}
{{- $key := index . 1 -}}
{{- $given := index . 2 -}}
{{- $length := index . 3 | int -}}
{{- if $given -}}
{{- $given | toString | b64enc -}}
{{- else if hasKey $existing $key -}}
{{- index $existing $key -}}
{{- else if gt (len .) 4 -}}
{{- printf "%s%s" (index . 4) (randAlphaNum (sub $length 1 | int)) | b64enc -}}
{{- else -}}
{{- randAlphaNum $length | b64enc -}}
{{- end -}}
{{- end -}}

{{/* The HTTPRoute's host names: httpRoute.hostnames, else ingress.host. */}}
{{- define "moletok.routeHostnames" -}}
{{- $v := .Values -}}
{{- $hosts := $v.httpRoute.hostnames -}}
{{- if and (not $hosts) $v.ingress.host -}}
{{- $hosts = list $v.ingress.host -}}
{{- end -}}
{{- toJson $hosts -}}
{{- end -}}

{{/* "true" when the Ingress / the HTTPRoute routes /<bucket>/ to the built-in object store. */}}
{{- define "moletok.ingressMedia" -}}
{{- $v := .Values -}}
{{- if and $v.objectStore.enabled $v.ingress.enabled $v.ingress.exposeMedia $v.services.api.enabled -}}true{{- end -}}
{{- end -}}
{{- define "moletok.routeMedia" -}}
{{- $v := .Values -}}
{{- if and $v.objectStore.enabled $v.httpRoute.enabled $v.httpRoute.exposeMedia $v.services.api.enabled -}}true{{- end -}}
{{- end -}}

{{/*
PUBLIC_BASE_URL, or "" to let the app derive it from S3_ENDPOINT and S3_BUCKET. The
built-in object store is only reachable from outside through the Ingress or the HTTPRoute,
so without either the value must be given.
*/}}
{{- define "moletok.publicBaseUrl" -}}
{{- $v := .Values -}}
{{- $routeHosts := include "moletok.routeHostnames" . | fromJsonArray -}}
{{- if $v.publicBaseUrl -}}
{{- $v.publicBaseUrl -}}
{{- else if $v.objectStore.enabled -}}
{{- if and (include "moletok.ingressMedia" .) $v.ingress.host -}}
{{- printf "%s://%s/%s" (ternary "https" "http" $v.ingress.tls.enabled) $v.ingress.host $v.s3.bucket -}}
{{- else if and (include "moletok.routeMedia" .) $routeHosts -}}
{{- printf "%s://%s/%s" $v.httpRoute.scheme (first $routeHosts) $v.s3.bucket -}}
{{- else -}}
{{- fail "publicBaseUrl is required when the built-in object store is not exposed through the Ingress (ingress.enabled, ingress.exposeMedia, ingress.host) or the HTTPRoute (httpRoute.enabled, httpRoute.exposeMedia, a host name): set it to an address phones can reach, e.g. https://media.example.com/moletok" -}}
{{- end -}}
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

{{/* Image reference, behind global.imageRegistry when set. Args: list $ <image values>. */}}
{{- define "moletok.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- $registry := $root.Values.global.imageRegistry | trimSuffix "/" -}}
{{- printf "%s%s:%s" (ternary (printf "%s/" $registry) "" (ne $registry "")) $image.repository (toString $image.tag) -}}
{{- end -}}

{{/* imagePullSecrets of every pod (args: $), or nothing. */}}
{{- define "moletok.pullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Scheduling of a pod: the workload's own nodeSelector, tolerations, affinity and
priorityClassName where set, else the top-level ones; for MoleTok services (with "spread"
labels) also the topology spread of their replicas. Args: dict "root" $ "own" <values>
["spread" <selector labels dict>].
*/}}
{{- define "moletok.scheduling" -}}
{{- $v := .root.Values -}}
{{- $own := .own -}}
{{- with (hasKey $own "nodeSelector" | ternary $own.nodeSelector $v.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (hasKey $own "tolerations" | ternary $own.tolerations $v.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (hasKey $own "affinity" | ternary $own.affinity $v.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (hasKey $own "priorityClassName" | ternary $own.priorityClassName $v.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- if and .spread $v.topologySpread.enabled }}
topologySpreadConstraints:
  {{- range $v.topologySpread.topologyKeys }}
  - topologyKey: {{ . }}
    maxSkew: {{ $v.topologySpread.maxSkew | int }}
    whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- toYaml $.spread | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
  {{- end }}
{{- end }}
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

{{/*
The ports of a server URL's host list, as a JSON list of numbers (the default when none is
written). Args: list <url> <default port>. Handles user:password@ and host lists (MongoDB).
*/}}
{{- define "moletok.urlPorts" -}}
{{- $rest := regexReplaceAll "^[A-Za-z+]+://([^@/]*@)?" (index . 0) "" -}}
{{- $hosts := regexReplaceAll "[/?].*$" $rest "" -}}
{{- $ports := list -}}
{{- range regexFindAll ":[0-9]+" $hosts -1 -}}
{{- $ports = append $ports (trimPrefix ":" . | int) -}}
{{- end -}}
{{- toJson (default (list (index . 1)) ($ports | uniq)) -}}
{{- end -}}

{{/* NetworkPolicyPorts (JSON) for the ports of a server URL. Args: as moletok.urlPorts. */}}
{{- define "moletok.portRules" -}}
{{- $rules := list -}}
{{- range include "moletok.urlPorts" . | fromJsonArray -}}
{{- $rules = append $rules (dict "port" (int .) "protocol" "TCP") -}}
{{- end -}}
{{- toJson $rules -}}
{{- end -}}
