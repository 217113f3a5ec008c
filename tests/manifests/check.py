"""Checks install manifests the way a cluster would refuse them, before any cluster sees them.

Usage: check.py FILE...  (exit status 1 on any error, with one line per error)

1. Every built-in kind against the official Kubernetes OpenAPI schema of a recent release,
   strictly: an unknown field is an error (kubernetes-validate).
2. cert-manager's kinds against cert-manager's own CRD schemas (crds/, from cert-manager's
   deploy/crds), made strict the same way.
3. What no schema says: references between documents (selectors and template labels, Services
   and container ports, ServiceAccounts, volumes, RBAC bindings, the webhook's Service), enum
   values the schemas leave open, label syntax, hardened security contexts, resources, and no
   Service links (a Service named podpass-webhook would put PODPASS_WEBHOOK_PORT=tcp://... into
   the webhook's environment, which is its --port).
"""

import copy
import pathlib
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES = "1.37.0"
CRDS = pathlib.Path(__file__).parent / "crds"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
ENUMS = {
    "failurePolicy": {"Ignore", "Fail"},
    "sideEffects": {"None", "NoneOnDryRun"},
    "reinvocationPolicy": {"Never", "IfNeeded"},
    "matchPolicy": {"Exact", "Equivalent"},
}


def strict(schema):
    """The schema with unknown properties refused wherever it lists the known ones."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def crd_schemas():
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            for version in crd["spec"]["versions"]:
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                schemas[key] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def schema_errors(docs, crds):
    errors = []
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        key = (doc["apiVersion"], doc["kind"])
        if key in crds:
            body = dict(doc, metadata={})  # ObjectMeta is the apiserver's to check
            for error in jsonschema.Draft7Validator(crds[key]).iter_errors(body):
                errors.append(f"{name}: {'.'.join(map(str, error.path))}: {error.message}")
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{name}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: no schema for {doc['apiVersion']} {doc['kind']}")
    return errors


def reference_errors(docs):
    errors = []
    by = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs}

    def has(kind, namespace, name):
        return (kind, namespace, name) in by

    def pod_template(doc):
        spec = doc.get("spec") or {}
        return spec.get("template") or ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")

    workloads = [d for d in docs if pod_template(d)]
    for doc in docs:
        meta = doc["metadata"]
        name = f"{doc['kind']}/{meta['name']}"
        namespace = meta.get("namespace")
        for key, value in (meta.get("labels") or {}).items():
            if len(value) > 63 or not LABEL_VALUE.match(value):
                errors.append(f"{name}: label {key}={value!r} is not a label value")
        if namespace and not has("Namespace", None, namespace):
            errors.append(f"{name}: namespace {namespace} is not created")
        template = pod_template(doc)
        if template:
            selector = doc["spec"].get("selector", {}).get("matchLabels", {})
            labels = template["metadata"]["labels"]
            if any(labels.get(k) != v for k, v in selector.items()):
                errors.append(f"{name}: the selector does not match the template's labels")
            spec = template["spec"]
            account = spec.get("serviceAccountName", "default")
            if not has("ServiceAccount", namespace, account):
                errors.append(f"{name}: ServiceAccount {account} is not created")
            if spec.get("enableServiceLinks") is not False:
                errors.append(f"{name}: enableServiceLinks must be false")
            volumes = {v["name"] for v in spec.get("volumes", [])}
            # A StatefulSet's controller adds a volume per claim template.
            volumes |= {c["metadata"]["name"] for c in doc["spec"].get("volumeClaimTemplates", [])}
            if doc["kind"] == "StatefulSet" and not has("Service", namespace, doc["spec"].get("serviceName")):
                errors.append(f"{name}: its serviceName is not a Service of the install")
            for volume in spec.get("volumes", []):
                if "configMap" in volume and not has("ConfigMap", namespace, volume["configMap"]["name"]):
                    errors.append(f"{name}: ConfigMap {volume['configMap']['name']} is not created")
            for container in spec.get("initContainers", []) + spec["containers"]:
                where = f"{name}/{container['name']}"
                env = [e["name"] for e in container.get("env", [])]
                for duplicate in {n for n in env if env.count(n) > 1}:
                    errors.append(f"{where}: env {duplicate} twice")
                ports = {p.get("name") for p in container.get("ports", [])}
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    port = (container.get(probe) or {}).get("httpGet", {}).get("port")
                    if isinstance(port, str) and port not in ports:
                        errors.append(f"{where}: {probe} names port {port}, which it lacks")
                for mount in container.get("volumeMounts", []):
                    if mount["name"] not in volumes:
                        errors.append(f"{where}: mount {mount['name']} has no volume")
                context = container.get("securityContext", {})
                if (
                    not context.get("readOnlyRootFilesystem")
                    or context.get("allowPrivilegeEscalation") is not False
                    or context.get("capabilities", {}).get("drop") != ["ALL"]
                ):
                    errors.append(f"{where}: securityContext is not hardened")
                if "resources" not in container:
                    errors.append(f"{where}: no resources")
        if doc["kind"] == "Service":
            selected = [
                w
                for w in workloads
                if w["metadata"].get("namespace") == namespace
                and all(
                    pod_template(w)["metadata"]["labels"].get(k) == v
                    for k, v in doc["spec"]["selector"].items()
                )
            ]
            if not selected:
                errors.append(f"{name}: selects no workload")
            for port in doc["spec"]["ports"]:
                target = port.get("targetPort")
                named = {
                    p.get("name")
                    for w in selected
                    for c in pod_template(w)["spec"]["containers"]
                    for p in c.get("ports", [])
                }
                if isinstance(target, str) and target not in named:
                    errors.append(f"{name}: targetPort {target} is no container's port")
        if doc["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            ref = doc["roleRef"]
            if not has(ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"]):
                errors.append(f"{name}: {ref['kind']} {ref['name']} is not created")
            for subject in doc["subjects"]:
                if not has("ServiceAccount", subject["namespace"], subject["name"]):
                    errors.append(f"{name}: subject {subject['name']} is not created")
        if doc["kind"] == "MutatingWebhookConfiguration":
            for webhook in doc["webhooks"]:
                if len(webhook["name"].split(".")) < 3:
                    errors.append(f"{name}: webhook name {webhook['name']} needs three segments")
                service = webhook["clientConfig"].get("service")
                if service:
                    target = by.get(("Service", service["namespace"], service["name"]))
                    if target is None:
                        errors.append(f"{name}: Service {service['name']} is not created")
                    elif service.get("port", 443) not in [p["port"] for p in target["spec"]["ports"]]:
                        errors.append(f"{name}: Service {service['name']} lacks port {service.get('port', 443)}")
                for field, allowed in ENUMS.items():
                    if field in webhook and webhook[field] not in allowed:
                        errors.append(f"{name}: {field} {webhook[field]!r}")
                if not 1 <= webhook.get("timeoutSeconds", 10) <= 30:
                    errors.append(f"{name}: timeoutSeconds outside 1..30")
        if doc["kind"] in ("Role", "ClusterRole"):
            for rule in doc["rules"]:
                if rule.get("resourceNames") and {"create", "list", "watch"} & set(rule["verbs"]):
                    errors.append(f"{name}: resourceNames cannot restrict {rule['verbs']}")
    return errors


def main(paths):
    crds = crd_schemas()
    failed = False
    for path in paths:
        docs = [d for d in yaml.safe_load_all(pathlib.Path(path).read_text()) if d]
        errors = schema_errors(docs, crds) + reference_errors(docs)
        for error in errors:
            print(f"{path}: {error}")
        print(f"{path}: {len(docs)} documents, {len(errors)} errors")
        failed |= bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
