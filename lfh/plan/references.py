"""References resolve: every name one object gives another points at something the cluster will hold.

Checked over the plan's own objects (ours and rendered); looked up among the plan's objects, for a
client plan its platform's too, and what exists at run time (`runtime_objects`: Kubernetes' own,
chart hook jobs', operators', ExternalSecret targets, Certificate secrets — each with its source):
- HTTPRoute `parentRefs` (Gateway and listener) and `backendRefs` (Service and port; a ReferenceGrant
  for another namespace, https://gateway-api.sigs.k8s.io/api-types/referencegrant/);
- BackendTLSPolicy `targetRefs` and CA references;
- ServiceMonitor/PodMonitor: the selector (and namespaceSelector) matches a Service/Pod, each endpoint's
  `port` names a port of it (a container port for a PodMonitor), and a Prometheus selects the monitor;
- PodDisruptionBudget selectors match a workload's pods; HPA `scaleTargetRef` exists;
- every pod's ServiceAccount and every Secret/ConfigMap (and key, when its keys are known) it mounts or
  reads through env/envFrom/projected volumes, unless marked `optional: true`;
- cloud identities: each workload-identity binding (IRSA role trust, Azure federated credential, GKE
  workloadIdentityUser member) names a ServiceAccount that exists, carries the annotation, and is the
  one the add-on's pods run as; on Azure those pods carry `azure.workload.identity/use: "true"`.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator, Optional

from .model import Finding, Plan, Resource
from .pods import PodTemplate, pod_templates
from .render import ClusterObject, cluster_objects
from .runtime_objects import runtime_objects

CHECK = "references"
GATEWAY_GROUP = "gateway.networking.k8s.io"


def selects(selector: Any, labels: dict[str, str]) -> bool:
    from ..policy_runner import pack

    pack()
    from lfh_policies.selectors import selects as policy_selects  # the one LabelSelector matcher

    return bool(policy_selects(selector, labels))


class Cluster:
    """What the cluster holds for a plan: its objects, its platform's, and what appears at run time."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.objects = cluster_objects(plan, with_platform=True)
        self.patches = cluster_objects(plan, phases=("patch",), with_platform=True)
        self.pods = pod_templates(plan, with_platform=True)
        self.objects += runtime_objects(self.objects, self.pods)
        self.index: dict[tuple[str, str, str], ClusterObject] = {}
        for o in self.objects:
            self.index.setdefault((o.kind, o.namespace, o.name), o)

    def get(self, kind: str, namespace: str, name: str) -> Optional[ClusterObject]:
        return self.index.get((kind, namespace, name))

    def of_kind(self, kind: str, namespace: Optional[str] = None) -> list[ClusterObject]:
        return [o for o in self.objects if o.kind == kind and (namespace is None or o.namespace == namespace)]

    def pods_in(self, namespace: str) -> list[PodTemplate]:
        return [t for t in self.pods if t.namespace == namespace]

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.get("Namespace", "", namespace)
        labels = dict(((ns.obj.get("metadata") or {}).get("labels") or {})) if ns else {}
        labels.setdefault("kubernetes.io/metadata.name", namespace)  # set by the API server on every namespace
        return labels


def _spec(o: ClusterObject) -> dict[str, Any]:
    spec = o.obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _ports(service: ClusterObject) -> list[dict[str, Any]]:
    return [p for p in _spec(service).get("ports") or [] if isinstance(p, dict)]


# ---------------------------------------------------------------- Gateway API


def _listeners(cluster: Cluster, gateway: ClusterObject) -> set[str]:
    names = {str(lst.get("name")) for lst in _spec(gateway).get("listeners") or [] if isinstance(lst, dict)}
    for p in cluster.patches:  # client stacks add listeners by server-side patch
        if p.kind == "Gateway" and p.namespace == gateway.namespace and p.name == gateway.name:
            names |= {str(lst.get("name")) for lst in _spec(p).get("listeners") or [] if isinstance(lst, dict)}
    return names


def _granted(cluster: Cluster, from_kind: str, from_ns: str, to_kind: str, to_ns: str, to_name: str) -> bool:
    for g in cluster.of_kind("ReferenceGrant", to_ns):
        spec = _spec(g)
        if any(f.get("kind") == from_kind and f.get("namespace") == from_ns for f in spec.get("from") or []) and \
                any(t.get("kind") == to_kind and t.get("name") in (None, to_name) for t in spec.get("to") or []):
            return True
    return False


def check_route(cluster: Cluster, o: ClusterObject) -> Iterator[str]:
    spec = _spec(o)
    for ref in spec.get("parentRefs") or []:
        if (ref.get("kind") or "Gateway") != "Gateway" or (ref.get("group") or GATEWAY_GROUP) != GATEWAY_GROUP:
            continue
        ns = ref.get("namespace") or o.namespace
        gw = cluster.get("Gateway", ns, str(ref.get("name")))
        if gw is None:
            yield f"parentRef Gateway {ns}/{ref.get('name')} does not exist; fix: name an existing Gateway"
        elif ref.get("sectionName") and ref["sectionName"] not in _listeners(cluster, gw):
            yield (f"parentRef sectionName {ref['sectionName']!r} is no listener of Gateway {ns}/{gw.name} "
                   f"(listeners: {sorted(_listeners(cluster, gw))}); fix: use one of them")
    for i, rule in enumerate(spec.get("rules") or []):
        for ref in rule.get("backendRefs") or []:
            if (ref.get("kind") or "Service") != "Service" or (ref.get("group") or "") != "":
                continue
            ns = ref.get("namespace") or o.namespace
            svc = cluster.get("Service", ns, str(ref.get("name")))
            if svc is None:
                near = sorted(s.name for s in cluster.of_kind("Service", ns))
                yield (f"rules[{i}] backendRef Service {ns}/{ref.get('name')} does not exist — the route is dead; "
                       f"fix: name the Service the chart/workload creates (Services in {ns}: {near})")
            elif ref.get("port") is not None and int(ref["port"]) not in {int(p.get("port", 0)) for p in _ports(svc)}:
                yield (f"rules[{i}] backendRef port {ref['port']} is not a port of Service {ns}/{svc.name} "
                       f"(ports: {sorted(int(p.get('port', 0)) for p in _ports(svc))}); fix: use one of them")
            if ns != o.namespace and not _granted(cluster, "HTTPRoute", o.namespace, "Service", ns, str(ref.get("name"))):
                yield (f"rules[{i}] backendRef to Service {ns}/{ref.get('name')} crosses namespaces without a "
                       f"ReferenceGrant in {ns}; fix: add one (from HTTPRoute in {o.namespace} to that Service)")


def check_backend_tls(cluster: Cluster, o: ClusterObject) -> Iterator[str]:
    spec = _spec(o)
    for ref in spec.get("targetRefs") or []:
        if (ref.get("kind") or "") != "Service" or (ref.get("group") or "") != "":
            continue
        svc = cluster.get("Service", o.namespace, str(ref.get("name")))
        if svc is None:
            near = sorted(s.name for s in cluster.of_kind("Service", o.namespace))
            yield (f"targetRef Service {o.namespace}/{ref.get('name')} does not exist — the policy applies to nothing; "
                   f"fix: target the Service that exists (Services in {o.namespace}: {near})")
        elif ref.get("sectionName") and ref["sectionName"] not in {p.get("name") for p in _ports(svc)}:
            yield f"targetRef sectionName {ref['sectionName']!r} is no port name of Service {o.namespace}/{svc.name}"
    for ref in (spec.get("validation") or {}).get("caCertificateRefs") or []:
        kind = ref.get("kind") or "ConfigMap"
        if cluster.get(kind, o.namespace, str(ref.get("name"))) is None:
            yield f"caCertificateRef {kind} {o.namespace}/{ref.get('name')} does not exist; fix: create it or name the right one"


# ---------------------------------------------------------------- monitoring


def _monitor_namespaces(cluster: Cluster, o: ClusterObject) -> Optional[list[str]]:
    """Namespaces a ServiceMonitor/PodMonitor looks in (None: all)."""
    sel = _spec(o).get("namespaceSelector") or {}
    if sel.get("any"):
        return None
    return list(sel.get("matchNames") or []) or [o.namespace]


def _selected_by_prometheus(cluster: Cluster, o: ClusterObject) -> bool:
    key = "serviceMonitor" if o.kind == "ServiceMonitor" else "podMonitor"
    for prom in cluster.of_kind("Prometheus"):
        spec = _spec(prom)
        sel, ns_sel = spec.get(f"{key}Selector"), spec.get(f"{key}NamespaceSelector")
        if sel is None:  # no selector: this Prometheus selects no monitors (prometheus-operator API docs)
            continue
        in_ns = o.namespace == prom.namespace if ns_sel is None else selects(ns_sel, cluster.namespace_labels(o.namespace))
        if in_ns and selects(sel, {str(k): str(v) for k, v in ((o.obj.get("metadata") or {}).get("labels") or {}).items()}):
            return True
    return False


def check_monitor(cluster: Cluster, o: ClusterObject) -> Iterator[str]:
    spec = _spec(o)
    namespaces = _monitor_namespaces(cluster, o)
    selector = spec.get("selector") or {}
    where = "every namespace" if namespaces is None else ", ".join(namespaces)
    if o.kind == "ServiceMonitor":
        targets = [s for s in cluster.of_kind("Service") if (namespaces is None or s.namespace in namespaces)
                   and selects(selector, {str(k): str(v) for k, v in ((s.obj.get("metadata") or {}).get("labels") or {}).items()})]
        if not targets:
            yield f"selector {selector} matches no Service in {where} — nothing is scraped; fix: match the Service's labels"
            return
        names = {str(p.get("name")) for s in targets for p in _ports(s)}
        for ep in spec.get("endpoints") or []:
            if ep.get("port") and ep["port"] not in names:
                yield (f"endpoint port {ep['port']!r} is no port name of the selected Services "
                       f"{sorted(f'{s.namespace}/{s.name}' for s in targets)} (port names: {sorted(names)}); fix: use one of them")
    else:
        pods = [t for t in cluster.pods if (namespaces is None or t.namespace in namespaces) and selects(selector, t.labels)]
        if not pods:
            yield f"selector {selector} matches no pod in {where} — nothing is scraped; fix: match the pods' labels"
            return
        names = {str(p.get("name")) for t in pods for _, c in t.containers() for p in c.get("ports") or []}
        numbers = {int(p.get("containerPort", 0)) for t in pods for _, c in t.containers() for p in c.get("ports") or []}
        for ep in spec.get("podMetricsEndpoints") or []:
            if ep.get("port") and ep["port"] not in names:
                yield f"podMetricsEndpoint port {ep['port']!r} is no container port name of the selected pods (names: {sorted(names)})"
            target = ep.get("targetPort")
            if target is not None and (str(target) not in names if isinstance(target, str) and not str(target).isdigit()
                                       else int(target) not in numbers):
                yield f"podMetricsEndpoint targetPort {target!r} is no container port of the selected pods"
    if cluster.of_kind("Prometheus") and not _selected_by_prometheus(cluster, o):
        yield (f"no Prometheus selects this {o.kind} (its labels {((o.obj.get('metadata') or {}).get('labels') or {})}); "
               "fix: give it the labels the Prometheus' monitor selector asks for")


# ---------------------------------------------------------------- disruption budgets and autoscalers


def check_pdb(cluster: Cluster, o: ClusterObject) -> Iterator[str]:
    selector = _spec(o).get("selector")
    if not any(selects(selector, t.labels) for t in cluster.pods_in(o.namespace)):
        yield (f"selector {selector} matches no pod of any workload in {o.namespace} — the budget protects nothing; "
               "fix: use the workload's pod labels")


def check_hpa(cluster: Cluster, o: ClusterObject) -> Iterator[str]:
    ref = _spec(o).get("scaleTargetRef") or {}
    if cluster.get(str(ref.get("kind")), o.namespace, str(ref.get("name"))) is None:
        yield f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} does not exist in {o.namespace}; fix: name the workload"


# ---------------------------------------------------------------- pods


def _secret_keys(o: ClusterObject) -> Optional[set[str]]:
    """The keys a Secret/ConfigMap will hold, or None when they are not known here."""
    keys: set[str] = set()
    for field in ("data", "stringData", "binaryData"):
        value = o.obj.get(field)
        if isinstance(value, dict):
            keys |= set(value)
        elif value is not None:
            return None
    # A run-time object lists its keys only when its creator determines them (ExternalSecret, Certificate).
    return None if o.phase == "runtime" and not keys else keys


def pod_references(t: PodTemplate) -> Iterator[tuple[str, str, Optional[str], str]]:
    """(kind, name, key or None, where) of every non-optional Secret/ConfigMap a pod uses."""
    for v in t.spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        if isinstance(v.get("secret"), dict) and not v["secret"].get("optional"):
            yield "Secret", str(v["secret"].get("secretName")), None, f"volume {v.get('name')!r}"
        if isinstance(v.get("configMap"), dict) and not v["configMap"].get("optional"):
            yield "ConfigMap", str(v["configMap"].get("name")), None, f"volume {v.get('name')!r}"
        for src in (v.get("projected") or {}).get("sources") or []:
            for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                if isinstance(src.get(key), dict) and not src[key].get("optional"):
                    yield kind, str(src[key].get("name")), None, f"projected volume {v.get('name')!r}"
    for role, c in t.containers():
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                ref = source.get(key)
                if isinstance(ref, dict) and not ref.get("optional"):
                    yield kind, str(ref.get("name")), str(ref.get("key")), f"{role} {c.get('name')!r} env {env.get('name')}"
        for env in c.get("envFrom") or []:
            for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                ref = env.get(key)
                if isinstance(ref, dict) and not ref.get("optional"):
                    yield kind, str(ref.get("name")), None, f"{role} {c.get('name')!r} envFrom"


def check_pod(cluster: Cluster, t: PodTemplate) -> Iterator[str]:
    ns = t.namespace
    if cluster.get("ServiceAccount", ns, t.service_account) is None:
        yield (f"runs as ServiceAccount {ns}/{t.service_account}, which does not exist — the pods are never created; "
               "fix: create it (chart `serviceAccount.create`) or name the one that exists")
    for kind, name, key, where in pod_references(t):
        target = cluster.get(kind, ns, name)
        if target is None:
            yield (f"{where} needs {kind} {ns}/{name}, which nothing creates — the pods stay in "
                   f"CreateContainerConfigError/ContainerCreating; fix: create it (an ExternalSecret target, a Certificate, "
                   f"the chart's values) or mark the reference optional")
            continue
        keys = _secret_keys(target) if key else None
        if key and keys is not None and key not in keys:
            yield f"{where} reads key {key!r} of {kind} {ns}/{name}, which has only {sorted(keys)}; fix: use an existing key"


# ---------------------------------------------------------------- cloud identities

#: The ServiceAccount annotation each cloud's workload identity reads:
#: EKS IRSA https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html,
#: Azure https://azure.github.io/azure-workload-identity/docs/topics/service-account-labels-and-annotations.html,
#: GKE https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity.
IDENTITY_ANNOTATION = {"aws": "eks.amazonaws.com/role-arn", "azure": "azure.workload.identity/client-id",
                       "gcp": "iam.gke.io/gcp-service-account"}
#: Azure Workload Identity injects the token only into pods labelled so (same document: "Pod labels").
AZURE_POD_LABEL = ("azure.workload.identity/use", "true")
_SUBJECT = re.compile(r"system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)")
_GKE_MEMBER = re.compile(r"svc\.id\.goog\[([a-z0-9-]+)/([a-z0-9.-]+)\]")


def identity_bindings(plan: Plan) -> Iterator[tuple[str, str, str, Resource, str]]:
    """(cloud, namespace, service account, binding resource, the identity the annotation must name)."""
    eks_addon_roles = {str(r.inputs.get("serviceAccountRoleArn")) for r in plan.resources
                       if r.type == "aws:eks/addon:Addon" and r.inputs.get("serviceAccountRoleArn")}
    identities = {str(r.inputs.get("resourceName") or r.name): r for r in plan.resources
                  if r.type.startswith("azure-native:managedidentity:UserAssignedIdentity")}
    gcp_accounts = {str(r.state.get("name")): r for r in plan.resources if r.type == "gcp:serviceaccount/account:Account"}
    for r in plan.resources:
        if r.type == "aws:iam/role:Role":
            arn = str(r.state.get("arn", ""))
            if arn in eks_addon_roles:
                continue  # an EKS managed add-on annotates its own ServiceAccount with serviceAccountRoleArn
            for ns, sa in sorted(set(_SUBJECT.findall(json.dumps(r.inputs.get("assumeRolePolicy", ""))))):
                yield "aws", ns, sa, r, arn
        elif r.type.startswith("azure-native:managedidentity:FederatedIdentityCredential"):
            m = _SUBJECT.fullmatch(str(r.inputs.get("subject", "")))
            if m:
                parent = identities.get(str(r.inputs.get("resourceName", "")))
                yield "azure", m.group(1), m.group(2), r, str(parent.state.get("clientId", "")) if parent else ""
        elif r.type == "gcp:serviceaccount/iAMMember:IAMMember" and r.inputs.get("role") == "roles/iam.workloadIdentityUser":
            m = _GKE_MEMBER.search(str(r.inputs.get("member", "")))
            if m:
                account = gcp_accounts.get(str(r.inputs.get("serviceAccountId", "")))
                yield "gcp", m.group(1), m.group(2), r, str(account.state.get("email", "")) if account else ""


def _service_account_refs(value: Any, namespace: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "serviceAccountRef" and isinstance(item, dict) and item.get("name"):
                yield str(item.get("namespace") or namespace), str(item["name"])
            else:
                yield from _service_account_refs(item, namespace)
    elif isinstance(value, list):
        for item in value:
            yield from _service_account_refs(item, namespace)


#: Kinds whose controller requests a token for a ServiceAccount it names in `serviceAccountRef` and
#: calls the cloud with it (no pod runs as that account): External Secrets stores
#: (https://external-secrets.io/latest/provider/aws-secrets-manager/#eks-service-account-credentials,
#: `auth.jwt.serviceAccountRef`; the same field for Azure Key Vault and GCP Secret Manager) and
#: cert-manager issuers (https://cert-manager.io/docs/configuration/acme/dns01/route53/#ambient-credentials,
#: `serviceAccountRef`).
TOKEN_REQUESTERS = ("SecretStore", "ClusterSecretStore", "Issuer", "ClusterIssuer")


def token_requesters(cluster: Cluster) -> set[tuple[str, str]]:
    return {ref for o in cluster.objects if o.kind in TOKEN_REQUESTERS
            for ref in _service_account_refs(_spec(o), o.namespace)}


def check_identities(cluster: Cluster, plan: Plan) -> Iterator[tuple[str, str]]:
    """(urn, message) for every cloud-identity binding that does not reach the pods."""
    # The restore drill's copy of a client namespace holds what the restore brings from the namespace
    # itself (ServiceAccounts included: components/client/backups.py DRILL_EXCLUDED leaves them in), so an
    # identity the copy's pods use is judged by the namespace it is restored from.
    drill_sources: dict[str, str] = {}
    if plan.role == "client" and plan.outputs.get("namespace"):
        from ..config import names

        src = str(plan.outputs["namespace"])
        drill_sources[names.drill_namespace(src)] = src
    for cloud, bound_ns, sa, res, identity in identity_bindings(plan):
        key = IDENTITY_ANNOTATION[cloud]
        ns = drill_sources.get(bound_ns, bound_ns)
        account = cluster.get("ServiceAccount", ns, sa)
        where = f"cloud identity {res.type.split(':')[-1]} {res.name} (for ServiceAccount {ns}/{sa})"
        if account is None or account.phase == "runtime":
            yield res.urn, (f"{where}: the ServiceAccount does not exist; fix: create it in {ns}, or bind the identity "
                            f"to the one the pods use")
            continue
        annotations = (account.obj.get("metadata") or {}).get("annotations") or {}
        if key not in annotations:
            yield account.urn, (f"{account.label()}: has no {key} annotation though {where} trusts it — its pods get no "
                                f"cloud credentials; fix: set the annotation (the chart's serviceAccount.annotations)")
        elif identity and str(annotations[key]) != identity:
            yield account.urn, f"{account.label()}: {key}={annotations[key]!r} but the binding is for {identity!r}"
        users = [t for t in cluster.pods_in(ns) if t.service_account == sa]
        if not users and (ns, sa) in token_requesters(cluster):
            continue  # a controller requests this account's token itself (e.g. ESO's serviceAccountRef)
        if not users:
            runs_as = sorted({t.service_account for t in cluster.pods_in(ns)})
            yield res.urn, (f"{where}: no pod runs as {sa} (pods in {ns} run as {runs_as}) — the identity reaches no "
                            "pod; fix: run the add-on as that ServiceAccount or bind the one it uses")
        if cloud == "azure":
            for t in users:
                if t.labels.get(AZURE_POD_LABEL[0]) != AZURE_POD_LABEL[1]:
                    yield t.owner.urn, (f"{t.label()}: runs as {ns}/{sa} (Azure workload identity) without the pod label "
                                        f"{AZURE_POD_LABEL[0]}: \"true\" — the webhook injects no token, its cloud calls "
                                        "fail; fix: add the label through the chart's pod labels value")


# ---------------------------------------------------------------- analyzer

CHECKS = {
    "HTTPRoute": check_route,
    "BackendTLSPolicy": check_backend_tls,
    "ServiceMonitor": check_monitor,
    "PodMonitor": check_monitor,
    "PodDisruptionBudget": check_pdb,
    "HorizontalPodAutoscaler": check_hpa,
}


def analyze(plan: Plan) -> None:
    cluster = Cluster(plan)
    for o in cluster_objects(plan):
        check = CHECKS.get(o.kind)
        if check is None:
            continue
        for problem in check(cluster, o):
            plan.findings.append(Finding(CHECK, "error", o.urn, f"{o.label()}: {problem}"))
    for t in pod_templates(plan):
        for problem in check_pod(cluster, t):
            plan.findings.append(Finding(CHECK, "error", t.owner.urn, f"{t.label()}: {problem}"))
    for urn, message in check_identities(cluster, plan):
        plan.findings.append(Finding(CHECK, "error", urn, message))


__all__ = ["CHECK", "Cluster", "analyze", "identity_bindings", "pod_references", "selects"]
