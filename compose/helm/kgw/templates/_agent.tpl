{{/*
The agent's container, shared by the pool, the DaemonSet and the sidecar. dict: root, role
(pool, daemonset or sidecar).
*/}}
{{- define "kgw.agentContainer" -}}
{{- $v := .root.Values -}}
{{- $own := ternary $v.sidecar $v.agents (eq .role "sidecar") -}}
{{- $settings := include "kgw.settings" (dict "root" .root "own" $own.env) | fromYaml -}}
{{- $start := include "kgw.setting" (dict "settings" $settings "name" "GATEWAY_PORT_START") -}}
{{- $http := include "kgw.setting" (dict "settings" $settings "name" "GATEWAY_HTTP_PORT") -}}
- name: kgw-agent
  image: {{ include "kgw.image" .root }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if eq .role "sidecar" }}
  # A native sidecar: started and ready before the application, stopped after it.
  restartPolicy: Always
  {{- end }}
  command: ["kgw-agent"]
  env:
    {{- include "kgw.commonEnv" (dict "root" .root "component" "agent") | nindent 4 }}
    {{- if eq .role "sidecar" }}
    # It serves its application alone: all brokers at localhost, no Kafka group. It streams
    # its descriptor and load to the coordinators, so kgwctl lists and drains it.
    - name: GATEWAY_AGENT_ROLE
      value: sidecar
    {{- $coordinator := include "kgw.settings" (dict "root" .root "own" $v.coordinators.env)
          | fromYaml }}
    - name: GATEWAY_COORDINATORS
      value: {{ include "kgw.coordinatorService" .root }}:{{ include "kgw.setting"
                 (dict "settings" $coordinator "name" "GATEWAY_GRPC_PORT") }}
    {{- end }}
    # Unique and stable while the {{ ternary "node" "pod" (eq .role "daemonset") }} lives.
    - name: GATEWAY_NODE_ID
      valueFrom:
        fieldRef:
          fieldPath: {{ ternary "spec.nodeName" "metadata.name" (eq .role "daemonset") }}
    # The zone, as the brokers' broker.rack: Kubernetes >= 1.33 copies the node's
    # topology.kubernetes.io/zone label onto the pod (PodTopologyLabelsAdmission).
    - name: GATEWAY_RACK_ID
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['topology.kubernetes.io/zone']
    {{- if ne .role "sidecar" }}
    - name: GATEWAY_ADVERTISED_HOST
      {{- with $v.agents.advertisedHost }}
      value: {{ . | quote }}
      {{- else }}
      valueFrom:
        fieldRef:
          fieldPath: {{ ternary "status.hostIP" "status.podIP" (eq .role "daemonset") }}
      {{- end }}
    {{- end }}
    {{- with include "kgw.envEntries" $settings | trim }}
    {{- . | nindent 4 }}
    {{- end }}
  {{- if eq .role "daemonset" }}
  # In the host's network every port is a host port: GATEWAY_PORT_START (bootstrap) up to
  # GATEWAY_PORT_START + the largest broker id + 2 (GATEWAY_PORT_COUNT).
  {{- end }}
  ports:
    - name: kafka
      containerPort: {{ $start }}
      {{- if eq .role "daemonset" }}
      hostPort: {{ $start }}
      {{- end }}
    - name: http
      containerPort: {{ $http }}
      {{- if eq .role "daemonset" }}
      hostPort: {{ $http }}
      {{- end }}
  {{- if eq .role "sidecar" }}
  # The application starts once its agent is ready.
  startupProbe:
    httpGet:
      path: /health/ready
      port: http
    periodSeconds: 1
    failureThreshold: 120
  {{- end }}
  {{- include "kgw.probes" . | nindent 2 }}
  resources:
    {{- toYaml $own.resources | nindent 4 }}
  {{- include "kgw.containerSecurityContext" . | nindent 2 }}
  {{- with include "kgw.secretMounts" (dict "root" .root "component" "agent") | trim }}
  volumeMounts:
    {{- . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
terminationGracePeriodSeconds of the shared agents: derived from the settings, or
agents.terminationGracePeriodSeconds when it covers as much.
*/}}
{{- define "kgw.agentGracePeriodSeconds" -}}
{{- $settings := include "kgw.settings" (dict "root" . "own" .Values.agents.env) | fromYaml -}}
{{- $needed := include "kgw.agentShutdownSeconds" (dict "root" . "settings" $settings) | int -}}
{{- $set := .Values.agents.terminationGracePeriodSeconds -}}
{{- if kindIs "invalid" $set -}}
{{- $needed -}}
{{- else if lt (int $set) $needed -}}
{{- fail (printf "%s %d %s %d s (%d brokers; docs/operations.md, Restarts)"
     "agents.terminationGracePeriodSeconds" (int $set) "does not cover an agent's drain of"
     $needed (int .Values.kafka.brokers)) -}}
{{- else -}}
{{- $set -}}
{{- end -}}
{{- end -}}

{{/*
The sidecar snippet. An application chart that lists kgw as a dependency puts the agent into
its pods with these, passing kgw's scope:
  spec:
    terminationGracePeriodSeconds: {{ include "kgw.sidecar.terminationGracePeriodSeconds"
                                       .Subcharts.kgw }}
    initContainers:
      {{- include "kgw.sidecar.container" .Subcharts.kgw | nindent 6 }}
    volumes:  # only when it renders something (a Secret to read)
      {{- include "kgw.sidecar.volumes" .Subcharts.kgw | nindent 6 }}
and its application bootstraps from localhost:6969. templates/sidecar-example.yaml shows it.
*/}}
{{- define "kgw.sidecar.container" -}}
{{- include "kgw.agentContainer" (dict "root" . "role" "sidecar") -}}
{{- end -}}

{{- define "kgw.sidecar.volumes" -}}
{{- include "kgw.secretVolumes" (dict "root" . "component" "agent") -}}
{{- end -}}

{{/* The application's stop, then the agent's drain (pods stop sidecars last). */}}
{{- define "kgw.sidecar.terminationGracePeriodSeconds" -}}
{{- $settings := include "kgw.settings" (dict "root" . "own" .Values.sidecar.env) | fromYaml -}}
{{- add (include "kgw.agentShutdownSeconds" (dict "root" . "settings" $settings))
        .Values.sidecar.applicationStopSeconds -}}
{{- end -}}
