# The OPA server's policy in make bench's comparison: the workload half of
# modeguard's MG002 (node-name-source) as an OPA admission policy would
# write it, with no view of the config. An agent container (Grafana Alloy
# or Agent image) of a DaemonSet, Deployment, StatefulSet or Pod that does
# not set HOSTNAME from fieldRef spec.nodeName gets it by a JSON patch,
# with a warning; everything else is allowed unchanged. opa run --server
# answers POST / with data.system.main, the AdmissionReview response.
package system

import rego.v1

main := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"response": response,
}

default uid := ""

uid := input.request.uid

response := {
	"uid": uid,
	"allowed": true,
	"patchType": "JSONPatch",
	"patch": base64.encode(json.marshal([p | some p in patches])),
	"warnings": ["MG002: the agent container must set HOSTNAME from fieldRef spec.nodeName"],
} if {
	count(patches) > 0
} else := {"uid": uid, "allowed": true}

controllers := {"DaemonSet", "Deployment", "StatefulSet"}

pod_spec := input.request.object.spec.template.spec if input.request.kind.kind in controllers

pod_spec := input.request.object.spec if input.request.kind.kind == "Pod"

prefix := "/spec/template/spec" if input.request.kind.kind in controllers

prefix := "/spec" if input.request.kind.kind == "Pod"

agent(c) if contains(c.image, "grafana/alloy")

agent(c) if contains(c.image, "grafana/agent")

node_env(c) if {
	some e in c.env
	e.name == "HOSTNAME"
	e.valueFrom.fieldRef.fieldPath == "spec.nodeName"
}

env := {"name": "HOSTNAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}

patches contains p if {
	some i, c in pod_spec.containers
	agent(c)
	not node_env(c)
	not c.env
	p := {"op": "add", "path": sprintf("%s/containers/%d/env", [prefix, i]), "value": [env]}
}

patches contains p if {
	some i, c in pod_spec.containers
	agent(c)
	not node_env(c)
	c.env
	p := {"op": "add", "path": sprintf("%s/containers/%d/env/-", [prefix, i]), "value": env}
}
