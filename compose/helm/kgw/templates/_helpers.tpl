{{/*
Names, labels, settings and Secret files shared by the templates. Helpers that need more than
the chart's context take a dict with the context as "root".
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "kgw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 20 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of object names: the release name, with the chart's name added unless it is there.
At most 40 characters, so that "<prefix>-coordinator-pods" stays a valid DNS label.
*/}}
{{- define "kgw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "kgw.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels that select a component's pods. dict: root, component. */}}
{{- define "kgw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kgw.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label of a component's objects and pods. dict: root, component. */}}
{{- define "kgw.labels" -}}
{{ include "kgw.selectorLabels" . }}
app.kubernetes.io/part-of: kgw
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "kgw.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
The coordinators' gRPC endpoint through their Service, fully qualified so that pods of other
namespaces reach it too.
*/}}
{{- define "kgw.coordinatorService" -}}
{{ include "kgw.fullname" . }}-coordinator.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}
{{- end -}}

{{/*
The settings a component's kgw process gets from `env` values, as YAML: .Values.env under the
component's own (dict: root, own), every value a string. values.schema.json refuses names kgw
does not read and those the chart sets itself.
*/}}
{{- define "kgw.settings" -}}
{{- $settings := dict -}}
{{- $merged := merge (dict) (deepCopy (.own | default dict)) (deepCopy .root.Values.env) -}}
{{- range $name, $value := $merged -}}
{{- /* YAML numbers arrive as float64, which would print 10000000 as 1e+07. */ -}}
{{- if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) -}}
{{- $value = int64 $value -}}
{{- end -}}
{{- $_ := set $settings $name (toString $value) -}}
{{- end -}}
{{- toYaml $settings -}}
{{- end -}}

{{/* `settings` (a map) as container env entries, sorted by name. */}}
{{- define "kgw.envEntries" -}}
{{- range $name := keys . | sortAlpha }}
- name: {{ $name }}
  value: {{ get $ $name | toString | quote }}
{{- end -}}
{{- end -}}

{{/*
The value of a setting the chart derives ports or grace periods from: the variable when set
and not empty, else its default in docs/configuration.md. dict: settings, name.
*/}}
{{- define "kgw.setting" -}}
{{- $defaults := dict "GATEWAY_HTTP_PORT" "8888" "GATEWAY_PORT_START" "6969"
      "GATEWAY_GRPC_PORT" "6900" "GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS" "500"
      "GATEWAY_SHUTDOWN_DRAIN_TIMEOUT" "10s" -}}
{{- $value := "" -}}
{{- if hasKey .settings .name -}}{{- $value = get .settings .name | toString -}}{{- end -}}
{{- $value | default (get $defaults .name) -}}
{{- end -}}

{{/* "500ms", "10s", "2m", "1h" -> milliseconds. */}}
{{- define "kgw.durationMs" -}}
{{- $d := toString . -}}
{{- if not (regexMatch "^[0-9]+(ms|s|m|h)$" $d) -}}
{{- fail (printf "%q: the chart reads durations as a number and ms, s, m or h" $d) -}}
{{- end -}}
{{- $unit := regexFind "[a-z]+$" $d -}}
{{- mul (trimSuffix $unit $d | int64) (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit) -}}
{{- end -}}

{{/*
Seconds an agent with `settings` may take to stop on SIGTERM (docs/operations.md, "Restarts"):
kafka.brokers x GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS + GATEWAY_SHUTDOWN_DRAIN_TIMEOUT,
rounded up, plus 5 s to leave the gateway group and exit. dict: root, settings.
*/}}
{{- define "kgw.agentShutdownSeconds" -}}
{{- $delay := include "kgw.setting" (dict "settings" .settings
      "name" "GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS") | int64 -}}
{{- $drain := include "kgw.durationMs" (include "kgw.setting" (dict "settings" .settings
      "name" "GATEWAY_SHUTDOWN_DRAIN_TIMEOUT")) | int64 -}}
{{- $ms := add (mul (int64 .root.Values.kafka.brokers) $delay) $drain -}}
{{- add (div (add $ms 999) 1000) 5 -}}
{{- end -}}

{{/*
The Secrets a component's kgw process reads files from, as a YAML list of {volume, secret,
files: {SETTING: file}}; mounted at /etc/kgw/<volume without "kgw-">. dict: root, component
(coordinator or agent: agents and sidecars).
*/}}
{{- define "kgw.secretFiles" -}}
{{- $v := .root.Values -}}
{{- $list := list -}}
{{- if $v.clusterKey.secretName -}}
{{- $list = append $list (dict "volume" "kgw-cluster-key" "secret" $v.clusterKey.secretName
      "files" (dict "GATEWAY_CLUSTER_KEY_FILE" $v.clusterKey.key)) -}}
{{- end -}}
{{- if $v.kafka.tls.caSecret -}}
{{- $list = append $list (dict "volume" "kgw-kafka-ca" "secret" $v.kafka.tls.caSecret
      "files" (dict "KAFKA_SSL_CA_FILE" "ca.crt")) -}}
{{- end -}}
{{- if $v.kafka.tls.clientSecret -}}
{{- $list = append $list (dict "volume" "kgw-kafka-client" "secret" $v.kafka.tls.clientSecret
      "files" (dict "KAFKA_SSL_CERT_FILE" "tls.crt" "KAFKA_SSL_KEY_FILE" "tls.key")) -}}
{{- end -}}
{{- $grpc := $v.grpc.tls -}}
{{- if and $grpc.enabled (eq .component "coordinator") -}}
{{- $list = append $list (dict "volume" "kgw-grpc-tls"
      "secret" (required "grpc.tls.coordinatorSecret is needed with grpc.tls.enabled"
                 $grpc.coordinatorSecret)
      "files" (dict "GATEWAY_GRPC_TLS_CERT_FILE" "tls.crt" "GATEWAY_GRPC_TLS_KEY_FILE" "tls.key"
                    "GATEWAY_GRPC_TLS_CA_FILE" "ca.crt")) -}}
{{- else if $grpc.enabled -}}
{{- $files := dict "GATEWAY_GRPC_TLS_CA_FILE" "ca.crt" -}}
{{- if ne $grpc.clientAuth "NONE" -}}
{{- $_ := set $files "GATEWAY_GRPC_TLS_CERT_FILE" "tls.crt" -}}
{{- $_ := set $files "GATEWAY_GRPC_TLS_KEY_FILE" "tls.key" -}}
{{- end -}}
{{- $list = append $list (dict "volume" "kgw-grpc-tls"
      "secret" (required "grpc.tls.agentSecret is needed with grpc.tls.enabled"
                 $grpc.agentSecret)
      "files" $files) -}}
{{- end -}}
{{- if and (eq .component "agent") (has $v.clients.securityProtocol (list "SSL" "SASL_SSL")) -}}
{{- $files := dict "GATEWAY_SSL_CERT_FILE" "tls.crt" "GATEWAY_SSL_KEY_FILE" "tls.key" -}}
{{- if ne $v.clients.clientAuth "NONE" -}}
{{- $_ := set $files "GATEWAY_SSL_CA_FILE" "ca.crt" -}}
{{- end -}}
{{- $list = append $list (dict "volume" "kgw-client-tls"
      "secret" (required "clients.tlsSecret is needed with clients.securityProtocol SSL or SASL_SSL"
                 $v.clients.tlsSecret)
      "files" $files) -}}
{{- end -}}
{{- toYaml $list -}}
{{- end -}}

{{/*
Env entries of the settings the chart sets for every node of a component: Kafka, the cluster,
Secrets. dict: root, component.
*/}}
{{- define "kgw.commonEnv" -}}
{{- $v := .root.Values -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" $v.kafka.bootstrapServers | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $v.kafka.securityProtocol }}
{{- if hasPrefix "SASL_" $v.kafka.securityProtocol }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.sasl.mechanism }}
- name: KAFKA_SASL_USERNAME
  value: {{ required "kafka.sasl.username is needed with SASL" $v.kafka.sasl.username | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.passwordSecret is needed with SASL"
                 $v.kafka.sasl.passwordSecret }}
      key: {{ $v.kafka.sasl.passwordKey }}
{{- end }}
- name: GATEWAY_CLUSTER_ID
  value: {{ $v.clusterId | quote }}
{{- if $v.grpc.tls.enabled }}
- name: GATEWAY_GRPC_TLS
  value: "true"
{{- if eq .component "coordinator" }}
- name: GATEWAY_GRPC_TLS_CLIENT_AUTH
  value: {{ $v.grpc.tls.clientAuth }}
{{- end }}
{{- end }}
{{- if eq .component "agent" }}
- name: GATEWAY_SECURITY_PROTOCOL
  value: {{ $v.clients.securityProtocol }}
{{- if has $v.clients.securityProtocol (list "SSL" "SASL_SSL") }}
- name: GATEWAY_SSL_CLIENT_AUTH
  value: {{ $v.clients.clientAuth }}
{{- end }}
{{- end }}
{{- range $secret := include "kgw.secretFiles" . | fromYamlArray }}
{{- range $name, $file := $secret.files }}
- name: {{ $name }}
  value: /etc/kgw/{{ trimPrefix "kgw-" $secret.volume }}/{{ $file }}
{{- end }}
{{- end }}
{{- end -}}

{{/* volumeMounts entries of kgw.secretFiles. dict: root, component. */}}
{{- define "kgw.secretMounts" -}}
{{- range $secret := include "kgw.secretFiles" . | fromYamlArray }}
- name: {{ $secret.volume }}
  mountPath: /etc/kgw/{{ trimPrefix "kgw-" $secret.volume }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* volumes entries of kgw.secretFiles. dict: root, component. */}}
{{- define "kgw.secretVolumes" -}}
{{- range $secret := include "kgw.secretFiles" . | fromYamlArray }}
- name: {{ $secret.volume }}
  secret:
    secretName: {{ $secret.secret }}
{{- end -}}
{{- end -}}

{{/* The health probes every kgw container has, on its port named http. */}}
{{- define "kgw.probes" -}}
readinessProbe:
  httpGet:
    path: /health/ready
    port: http
  periodSeconds: 5
livenessProbe:
  httpGet:
    path: /health/live
    port: http
  periodSeconds: 10
  failureThreshold: 3
{{- end -}}

{{/* A container that runs as the image's unprivileged user and changes nothing on disk. */}}
{{- define "kgw.containerSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end -}}

{{/* nodeSelector, tolerations, affinity, imagePullSecrets of a pod spec. dict: root, own. */}}
{{- define "kgw.scheduling" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .own.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .own.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .own.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
