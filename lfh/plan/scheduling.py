"""Schedulability: place every pod a stack will run onto the platform's node pools, as kube-scheduler
would, before any cloud bill arrives.

Nodes: each node pool of the platform plan (`lfh.cost.node_pools`) at its **minimum** size, or at its
maximum where a node autoscaler serves it (AKS `enableAutoScaling`, GKE pool `autoscaling`, EKS node
groups tagged for Cluster Autoscaler auto-discovery *and* a Cluster Autoscaler running in the
platform plan); each node's allocatable is the cloud's reserve formula (`lfh.cost.allocatable`); every
node carries its pool's labels and taints plus `kubernetes.io/hostname` and a zone.

Pods, in the order they arrive on a real cluster:
1. per node: every DaemonSet pod whose pod tolerates the node (platform and stack), and Longhorn's
   instance manager, which reserves `guaranteedInstanceManagerCPU` % (default 12, chart 1.12.1
   values.yaml) of each node's allocatable CPU where longhorn-manager runs;
2. the platform's pods (Deployments, StatefulSets, the Envoy fleet of each EnvoyProxy, Prometheus and
   Alertmanager of the monitoring operator), then the stack's own — each controller × its replicas,
   rendered Helm objects included, and the members the Percona operator creates for each replset
   (`size` pods, arbiter/non-voting/hidden members; labels and required anti-affinity as
   percona-server-mongodb-operator v1.22.0 pkg/psmdb/statefulset.go PodAffinity builds them);
3. the weekly restore drill's copy: every object of the client namespace the drill restores (its
   excluded kinds left out, its Velero resource modifiers applied, as the drill's ConfigMaps say),
   in the drill namespace, next to the original;
4. Jobs, CronJobs and Helm hooks (each must fit on its own on top of the steady state), and the pods an
   HPA may add up to its maximum (listed in the report when they do not fit).

Each pod goes to a node that passes kube-scheduler's filters — resources (requests), taints and
tolerations (NoSchedule/NoExecute), nodeSelector, required node affinity, required pod anti-affinity
(both directions, as the scheduler enforces it), `DoNotSchedule` topology spread — and among those to
the least allocated one (the default scoring). A pod that fits nowhere is an **error** naming its
controller and what stopped it; `python -m lfh cost` prints the same placement.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .model import Finding, Plan

CHECK = "scheduling"
GIB = 1024 ** 3
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
#: Longhorn's default `guaranteedInstanceManagerCPU` (percent of a node's allocatable CPU).
LONGHORN_IM_CPU_PERCENT = 12.0
#: The Envoy Gateway shutdown-manager sidecar's default requests (v1.9.0 api/v1alpha1/shared_types.go).
ENVOY_SHUTDOWN_MANAGER = {"cpu": "10m", "memory": "32Mi"}


# ---------------------------------------------------------------- nodes


@dataclass
class Node:
    name: str
    pool: str
    labels: dict[str, str]
    taints: list[dict[str, str]]
    cpu: float          # allocatable cores
    memory: float       # allocatable bytes
    used_cpu: float = 0.0
    used_memory: float = 0.0
    pods: list["Pod"] = field(default_factory=list)

    @property
    def free_cpu(self) -> float:
        return self.cpu - self.used_cpu

    @property
    def free_memory(self) -> float:
        return self.memory - self.used_memory

    def take(self, pod: "Pod") -> None:
        self.used_cpu += pod.cpu
        self.used_memory += pod.memory
        self.pods.append(pod)


@dataclass
class PoolView:
    name: str
    instance_type: str
    nodes: int
    min_nodes: int
    max_nodes: int
    autoscaled: bool
    allocatable_cpu: float
    allocatable_memory_gib: float
    taints: list[str]


def build_nodes(platform: Plan) -> tuple[list[Node], list[PoolView], str]:
    """The nodes the scheduler sees, per pool (see the module docstring); ("", …) reason when unknown."""
    from ..cost import GIB as _GIB, node_pools

    pools = node_pools(platform)
    if not pools:
        return [], [], "the platform records no node pools (an existing cluster without node sizes in its config)"
    unknown = [p for p in pools if not p.known]
    if unknown:
        return [], [], ("unknown node shape(s): " + ", ".join(f"{p.name}={p.instance_type}" for p in unknown)
                        + " (add them to lfh/prices.py SHAPES)")
    nodes: list[Node] = []
    views: list[PoolView] = []
    for p in pools:
        # At its maximum only where a node autoscaler serves the pool (an EKS node group counts as
        # autoscaled only when the plan's Cluster Autoscaler discovers its cluster: lfh.cost.node_pools).
        scaled = p.autoscaled
        count = p.capacity_nodes
        cpu, mem_gib = p.allocatable
        pool = p.labels.get("lfh.io/pool") or p.name
        for i in range(count):
            # The kubelet's well-known labels (kubernetes.io/os, …/arch, instance type) and the pool's own.
            labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                      "node.kubernetes.io/instance-type": p.instance_type,
                      **p.labels, HOSTNAME: f"{pool}-{i}", ZONE: f"zone-{i % 3}"}
            nodes.append(Node(f"{pool}-{i}", pool, labels, list(p.taints), cpu, mem_gib * _GIB))
        views.append(PoolView(pool, p.instance_type, count, p.min_nodes, p.max_nodes, scaled, round(cpu, 3),
                              round(mem_gib, 3), [f"{t['key']}={t['value']}:{t['effect']}" for t in p.taints]))
    return nodes, views, ""


# ---------------------------------------------------------------- pods


@dataclass
class PodGroup:
    """Identical pods of one controller."""

    owner: str          # `StatefulSet acme-production/typesense`
    urn: str
    namespace: str
    count: int
    cpu: float
    memory: float
    labels: dict[str, str]
    tolerations: list[dict[str, Any]]
    node_selector: dict[str, str]
    node_terms: list[dict[str, Any]]
    anti_affinity: list[dict[str, Any]]
    spread: list[dict[str, Any]]
    images: list[str] = field(default_factory=list)
    per_node: bool = False
    transient: bool = False
    #: Extra pods an HPA may add (max − replicas).
    hpa_extra: int = 0
    #: Longhorn instance manager: requests a share of each node's CPU instead of a fixed amount.
    node_cpu_fraction: float = 0.0
    platform: bool = False


@dataclass
class Pod:
    group: PodGroup
    cpu: float
    memory: float


def _pod_group(owner: str, urn: str, ns: str, count: int, spec: dict[str, Any], labels: dict[str, str],
               **kw: Any) -> PodGroup:
    from ..cost import pod_size

    size = pod_size(spec)
    affinity = spec.get("affinity") or {}
    node_req = ((affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    anti = (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []
    spread = [c for c in spec.get("topologySpreadConstraints") or [] if c.get("whenUnsatisfiable") == "DoNotSchedule"]
    images = [str(c.get("image", "")) for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]
    return PodGroup(owner, urn, ns, count, size.cpu_requests, size.memory_requests, dict(labels or {}),
                    list(spec.get("tolerations") or []), dict(spec.get("nodeSelector") or {}),
                    list(node_req.get("nodeSelectorTerms") or []), list(anti), spread, images, **kw)


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def groups_of(obj: dict[str, Any], urn: str, *, hook: bool = False, hpa: Optional[dict] = None) -> list[PodGroup]:
    """The pod groups one object makes: a controller's template, or an operator CR's members."""
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "default", meta.get("name") or "?"
    spec = obj.get("spec") or {}
    owner = f"{kind} {ns}/{name}"
    template = spec.get("template") or {}
    tspec, tlabels = template.get("spec") or {}, (template.get("metadata") or {}).get("labels") or {}
    if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        replicas = _int(spec.get("replicas"), 1)
        extra = max(0, (hpa or {}).get((ns, kind, name), replicas) - replicas)
        return [_pod_group(owner, urn, ns, replicas, tspec, tlabels, transient=hook, hpa_extra=extra)]
    if kind == "DaemonSet":
        return [_pod_group(owner, urn, ns, 1, tspec, tlabels, per_node=True)]
    if kind == "Job":
        return [_pod_group(owner, urn, ns, _int(spec.get("parallelism"), 1), tspec, tlabels, transient=True)]
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        t = job.get("template") or {}
        return [_pod_group(owner, urn, ns, _int(job.get("parallelism"), 1), t.get("spec") or {},
                           (t.get("metadata") or {}).get("labels") or {}, transient=True)]
    if kind == "Pod":
        return [_pod_group(owner, urn, ns, 1, spec, meta.get("labels") or {}, transient=True)]
    if kind == "PerconaServerMongoDB":
        return _psmdb_groups(owner, urn, ns, name, spec)
    if kind == "EnvoyProxy":
        k8s_ = (spec.get("provider") or {}).get("kubernetes") or {}
        dep = k8s_.get("envoyDeployment") or {}
        pod = dep.get("pod") or {}
        resources = (dep.get("container") or {}).get("resources") or {
            "requests": {"cpu": "100m", "memory": "512Mi"}}  # v1.9.0 DefaultDeploymentCPU/MemoryResourceRequests
        pspec = {**pod, "containers": [{"name": "envoy", "resources": resources},
                                       {"name": "shutdown-manager", "resources": {"requests": ENVOY_SHUTDOWN_MANAGER}}]}
        return [_pod_group(f"Envoy fleet of EnvoyProxy {ns}/{name}", urn, ns, _int(dep.get("replicas"), 1), pspec,
                           {**(pod.get("labels") or {}), "app.kubernetes.io/name": "envoy"})]
    if kind in ("Prometheus", "Alertmanager") and str(obj.get("apiVersion", "")).startswith("monitoring.coreos.com/"):
        pspec = {k: spec[k] for k in ("nodeSelector", "tolerations", "affinity", "topologySpreadConstraints") if k in spec}
        pspec["containers"] = [{"name": kind.lower(), "resources": spec.get("resources") or {}}]
        return [_pod_group(owner, urn, ns, _int(spec.get("replicas"), 1), pspec,
                           ((spec.get("podMetadata") or {}).get("labels") or {}))]
    return []


def _psmdb_groups(owner: str, urn: str, ns: str, name: str, spec: dict[str, Any]) -> list[PodGroup]:
    """The members the Percona operator creates for each replset (pkg/psmdb/statefulset.go)."""
    out: list[PodGroup] = []
    backup = spec.get("backup") or {}
    agent = [{"name": "backup-agent", "resources": backup.get("resources") or {}}] if backup.get("enabled") else []
    for rs in spec.get("replsets") or []:
        members = [("mongod", rs, _int(rs.get("size"), 3), True)]
        for part in ("arbiter", "nonvoting", "hidden"):
            cfg = rs.get(part) or {}
            if cfg.get("enabled"):
                members.append((part, cfg, _int(cfg.get("size"), 1), part != "arbiter"))
        for component, cfg, size, data in members:
            labels = {"app.kubernetes.io/name": "percona-server-mongodb", "app.kubernetes.io/part-of": "percona-server-mongodb",
                      "app.kubernetes.io/managed-by": "percona-server-mongodb-operator", "app.kubernetes.io/instance": name,
                      "app.kubernetes.io/replset": rs.get("name", "rs0"), "app.kubernetes.io/component": component,
                      **(cfg.get("labels") or {})}
            key = (cfg.get("affinity") or {}).get("antiAffinityTopologyKey", HOSTNAME)
            advanced = (cfg.get("affinity") or {}).get("advanced")
            affinity = advanced or ({} if key == "none" else {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {k: v for k, v in labels.items() if k.startswith("app.kubernetes.io/")}},
                 "topologyKey": key}]}})
            pspec = {"containers": [{"name": "mongod", "resources": cfg.get("resources") or {}}, *(agent if data else [])],
                     "tolerations": cfg.get("tolerations") or [], "nodeSelector": cfg.get("nodeSelector") or {},
                     "affinity": affinity, "topologySpreadConstraints": cfg.get("topologySpreadConstraints") or []}
            who = f"{owner} replset {rs.get('name', 'rs0')}" + ("" if component == "mongod" else f" {component}")
            out.append(_pod_group(who, urn, ns, size, pspec, labels))
    return out


def _hpa_max(objects: Iterable[Any]) -> dict[tuple[str, str, str], int]:
    out: dict[tuple[str, str, str], int] = {}
    for o in objects:
        if o.obj.get("kind") == "HorizontalPodAutoscaler":
            spec = o.obj.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            out[(o.namespace or "default", ref.get("kind", ""), ref.get("name", ""))] = _int(spec.get("maxReplicas"), 1)
    return out


def pod_groups(plan: Plan) -> list[PodGroup]:
    """Every pod group of ``plan`` alone (ours and rendered, operator members included)."""
    from .render import cluster_objects

    objects = [o for o in cluster_objects(plan) if o.phase != "patch"]
    hpa = _hpa_max(objects)
    out: list[PodGroup] = []
    for o in objects:
        out += groups_of(o.obj, o.urn, hook=o.phase == "hook", hpa=hpa)
    pct = _longhorn_im_percent(plan)
    if pct is not None:
        out.append(PodGroup("Longhorn instance manager (per node running longhorn-manager)", _longhorn_urn(plan),
                            "longhorn-system", 1, 0.0, 0.0, {"longhorn.io/component": "instance-manager"}, [], {}, [],
                            [], [], per_node=True, node_cpu_fraction=pct / 100.0))
    return out


def _platform_groups_cached(platform: Plan) -> list[PodGroup]:
    cached = platform.__dict__.get("_pod_groups")
    if cached is None:
        cached = pod_groups(platform)
        for g in cached:
            g.platform = True
        platform.__dict__["_pod_groups"] = cached
    return cached


def _longhorn_release(plan: Plan) -> Optional[tuple[Any, dict[str, Any]]]:
    from ..charts import chart_for

    for r, h in plan.helm_releases():
        chart = chart_for(h["chart"], h["repository"])
        if chart is not None and chart.key == "longhorn":
            return r, h
    return None


def _longhorn_urn(plan: Plan) -> str:
    found = _longhorn_release(plan)
    return found[0].urn if found else ""


def _longhorn_im_percent(plan: Plan) -> Optional[float]:
    """`guaranteedInstanceManagerCPU` (v1 data engine) of the Longhorn release, None without Longhorn."""
    found = _longhorn_release(plan)
    if found is None:
        return None
    value = ((found[1].get("values") or {}).get("defaultSettings") or {}).get("guaranteedInstanceManagerCPU")
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value).get("v1")
        except ValueError:
            value = None
    try:
        return float(value) if value not in (None, "") else LONGHORN_IM_CPU_PERCENT
    except (TypeError, ValueError):
        return LONGHORN_IM_CPU_PERCENT


# ---------------------------------------------------------------- the restore drill's copy


def drill_copy(plan: Plan) -> list[PodGroup]:
    """The pods of the restore drill's throwaway copy of the client namespace (see the module docstring)."""
    from .render import cluster_objects

    objects = [o for o in cluster_objects(plan) if o.phase != "patch"]
    drill = None
    for o in objects:
        if o.kind == "CronJob":
            containers = ((((o.obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template") or {}) \
                .get("spec", {}).get("containers") or []
            env = {e.get("name"): e.get("value") for c in containers for e in c.get("env") or []}
            if env.get("SOURCE_NS") and env.get("DRILL_NS"):
                drill = (o, env)
                break
    if drill is None:
        return []
    cron, env = drill
    source, target = env["SOURCE_NS"], env["DRILL_NS"]
    try:
        excluded = set(json.loads(env.get("EXCLUDED_RESOURCES") or "[]"))
    except ValueError:
        excluded = set()
    rules: list[dict[str, Any]] = []
    for o in objects:
        if o.kind == "ConfigMap" and o.name == env.get("MODIFIERS_CM") and o.namespace == cron.namespace:
            import yaml

            for text in (o.obj.get("data") or {}).values():
                rules += list((yaml.safe_load(text) or {}).get("resourceModifierRules") or [])
    hpa = _hpa_max(objects)
    out: list[PodGroup] = []
    for o in objects:
        if o.namespace != source or group_resource(o.obj) in excluded:
            continue
        obj = apply_modifiers(copy.deepcopy(o.obj), rules)
        obj.setdefault("metadata", {})["namespace"] = target
        for g in groups_of(obj, o.urn, hook=o.phase == "hook", hpa=hpa):
            if not g.transient and g.count > 0:
                g.owner += f" (restore drill copy in {target})"
                g.hpa_extra = 0
                out.append(g)
    return out


def group_resource(obj: dict[str, Any]) -> str:
    """`deployments.apps`, `perconaservermongodbs.psmdb.percona.com` (Velero's groupResource spelling)."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    plural = str(obj.get("kind", "")).lower()
    plural = plural[:-1] + "ies" if plural.endswith("y") else plural + ("es" if plural.endswith("s") else "s")
    return f"{plural}.{group}" if group else plural


def apply_modifiers(obj: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Velero resource modifiers (JSON patches on matching objects; values are JSON text)."""
    for rule in rules:
        cond = rule.get("conditions") or {}
        if cond.get("groupResource") not in (group_resource(obj), "*"):
            continue
        labels = (obj.get("metadata") or {}).get("labels") or {}
        wanted = ((cond.get("labelSelector") or {}).get("matchLabels") or {})
        if any(labels.get(k) != v for k, v in wanted.items()):
            continue
        regex = cond.get("resourceNameRegex")
        if regex and not re.search(regex, (obj.get("metadata") or {}).get("name", "")):
            continue
        for patch in rule.get("patches") or []:
            _json_patch(obj, patch)
    return obj


def _json_patch(obj: dict[str, Any], patch: dict[str, Any]) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in str(patch.get("path", "")).split("/")[1:]]
    if not parts:
        return
    node: Any = obj
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    value = patch.get("value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    last, op = parts[-1], patch.get("operation")
    if isinstance(node, list):
        if op == "remove":
            node.pop(int(last))
        else:
            node[int(last)] = value
    elif op == "remove":
        node.pop(last, None)
    else:
        node[last] = value


# ---------------------------------------------------------------- placement


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, str]) -> bool:
    """A toleration list against one taint (PreferNoSchedule never blocks)."""
    if taint.get("effect") not in ("NoSchedule", "NoExecute"):
        return True
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint["effect"]:
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint["key"]):
            return True
        if t.get("key") == taint["key"] and str(t.get("value", "") or "") == str(taint.get("value", "") or ""):
            return True
    return False


def _expr_matches(expr: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
    have = labels.get(key)
    if op == "In":
        return have in values
    if op == "NotIn":
        return have not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and have is not None and values:
        try:
            return int(have) > int(values[0]) if op == "Gt" else int(have) < int(values[0])
        except ValueError:
            return False
    return False


def node_rejects(group: PodGroup, node: Node) -> Optional[str]:
    """Why ``node`` can never run ``group``'s pods (taints, selector, affinity), or None."""
    for t in node.taints:
        if not tolerates(group.tolerations, t):
            return f"taint {t['key']}={t.get('value', '')}:{t['effect']} not tolerated"
    for k, v in group.node_selector.items():
        if node.labels.get(k) != str(v):
            return f"nodeSelector {k}={v} does not match"
    if group.node_terms and not any(all(_expr_matches(e, node.labels) for e in term.get("matchExpressions") or [])
                                    for term in group.node_terms):
        return "required node affinity does not match"
    return None


def _term_selects(term: dict[str, Any], term_ns: str, pod: Pod) -> bool:
    from .gateways import selector_matches

    namespaces = term.get("namespaces") or ([] if term.get("namespaceSelector") is not None else [term_ns])
    if namespaces and pod.group.namespace not in namespaces:
        return False
    return selector_matches(term.get("labelSelector") or {}, pod.group.labels) if term.get("labelSelector") is not None else False


def _anti_affinity_blocks(group: PodGroup, node: Node, nodes: list[Node]) -> bool:
    probe = Pod(group, group.cpu, group.memory)
    for term in group.anti_affinity:
        key = term.get("topologyKey", HOSTNAME)
        domain = node.labels.get(key)
        if domain is None:
            continue
        for other in nodes:
            if other.labels.get(key) == domain and any(_term_selects(term, group.namespace, p) for p in other.pods):
                return True
    # Symmetry: an existing pod's required anti-affinity also keeps this pod out of its domain.
    for other in nodes:
        for p in other.pods:
            for term in p.group.anti_affinity:
                key = term.get("topologyKey", HOSTNAME)
                if node.labels.get(key) is not None and other.labels.get(key) == node.labels.get(key) \
                        and _term_selects(term, p.group.namespace, probe):
                    return True
    return False


def _spread_blocks(group: PodGroup, node: Node, nodes: list[Node], eligible: list[Node]) -> bool:
    from .gateways import selector_matches

    for c in group.spread:
        key = c.get("topologyKey", HOSTNAME)
        domains = {n.labels.get(key) for n in eligible if n.labels.get(key) is not None}
        if node.labels.get(key) is None or not domains:
            continue
        sel = c.get("labelSelector") or {}
        count = {d: 0 for d in domains}
        for n in nodes:
            d = n.labels.get(key)
            if d in count:
                count[d] += sum(1 for p in n.pods if p.group.namespace == group.namespace and selector_matches(sel, p.group.labels))
        if count[node.labels[key]] + 1 - min(count.values()) > _int(c.get("maxSkew"), 1):
            return True
    return False


@dataclass
class Unplaced:
    group: PodGroup
    missing: int
    reason: str


@dataclass
class Placement:
    checked: bool
    reason: str = ""
    pools: list[PoolView] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)
    #: Jobs/hooks that fit nowhere on top of the steady state.
    transient_unplaced: list[Unplaced] = field(default_factory=list)
    #: HPA pods beyond the replicas that fit nowhere (the HPA cannot reach its maximum).
    hpa_unplaced: list[Unplaced] = field(default_factory=list)
    #: Pod groups of the stack itself (not its platform's), placed or not.
    own: list[PodGroup] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.checked and not self.unplaced and not self.transient_unplaced

    def pool_use(self) -> list[dict[str, Any]]:
        rows = []
        mine = {id(g) for g in self.own}
        for view in self.pools:
            nodes = [n for n in self.nodes if n.pool == view.name]
            own = sum(p.cpu for n in nodes for p in n.pods if id(p.group) in mine)
            own_mem = sum(p.memory for n in nodes for p in n.pods if id(p.group) in mine)
            rows.append({
                "pool": view.name, "instanceType": view.instance_type, "nodes": view.nodes, "minNodes": view.min_nodes,
                "maxNodes": view.max_nodes, "autoscaled": view.autoscaled, "taints": view.taints,
                "allocatableCpu": round(view.allocatable_cpu * view.nodes, 3),
                "allocatableMemoryGiB": round(view.allocatable_memory_gib * view.nodes, 3),
                "requestedCpu": round(sum(n.used_cpu for n in nodes), 3),
                "requestedMemoryGiB": round(sum(n.used_memory for n in nodes) / GIB, 3),
                "thisStackCpu": round(own, 3), "thisStackMemoryGiB": round(own_mem / GIB, 3),
                "freeCpu": round(sum(n.free_cpu for n in nodes), 3),
                "freeMemoryGiB": round(sum(n.free_memory for n in nodes) / GIB, 3),
                "pods": sum(len(n.pods) for n in nodes),
            })
        return rows


def _place_one(group: PodGroup, nodes: list[Node], *, commit: bool = True) -> tuple[Optional[Node], str]:
    """The node a pod of ``group`` goes to (least allocated among those that pass every filter)."""
    eligible, rejected = [], {}
    for n in nodes:
        why = node_rejects(group, n)
        if why:
            rejected.setdefault(n.pool, set()).add(why)
        else:
            eligible.append(n)
    fitting, short = [], {}
    for n in eligible:
        # Every filter is evaluated, so the report names each reason a node failed for.
        blocked = False
        cpu = group.cpu + group.node_cpu_fraction * n.cpu
        if cpu > n.free_cpu + 1e-9 or group.memory > n.free_memory + 1:
            short.setdefault(n.pool, []).append(n)
            blocked = True
        if group.anti_affinity or any(p.group.anti_affinity for m in nodes for p in m.pods):
            if _anti_affinity_blocks(group, n, nodes):
                rejected.setdefault(n.pool, set()).add("required pod anti-affinity: its topology domain already runs a matching pod")
                blocked = True
        if group.spread and _spread_blocks(group, n, nodes, eligible):
            rejected.setdefault(n.pool, set()).add("topology spread (DoNotSchedule) maxSkew would be exceeded")
            blocked = True
        if not blocked:
            fitting.append(n)
    if fitting:
        best = min(fitting, key=lambda n: (n.used_cpu / n.cpu + n.used_memory / n.memory, n.name))
        if commit:
            best.take(Pod(group, group.cpu + group.node_cpu_fraction * best.cpu, group.memory))
        return best, ""
    parts = []
    for pool, ns in sorted(short.items()):
        most = max(ns, key=lambda n: (n.free_cpu, n.free_memory))
        parts.append(f"pool {pool}: {len(ns)} node(s) too full (needs {group.cpu:g} CPU / {group.memory / GIB:.2f} GiB, "
                     f"most free {max(most.free_cpu, 0):.2f} CPU / {max(most.free_memory, 0) / GIB:.2f} GiB)")
    for pool, whys in sorted(rejected.items()):
        parts.append(f"pool {pool}: " + "; ".join(sorted(whys)))
    return None, "; ".join(parts) or "no nodes"


def _sort_key(g: PodGroup) -> tuple:
    # Most constrained first, as an operator would size for them: anti-affinity, pinned pools, size.
    return (not g.anti_affinity, not (g.node_selector or g.node_terms or g.tolerations), -g.cpu, -g.memory, g.owner)


def place(plan: Plan) -> Placement:
    """The placement of ``plan``'s pods (and its platform's) on the platform's nodes (memoised)."""
    cached = plan.__dict__.get("_placement")
    if cached is not None:
        return cached
    platform = plan.platform if plan.platform is not None else plan
    nodes, views, reason = build_nodes(platform)
    own = [g for g in (pod_groups(plan) if plan.platform is not None else _platform_groups_cached(plan))]
    result = Placement(bool(nodes), reason, views, nodes, own=own)
    plan.__dict__["_placement"] = result
    if not nodes:
        return result
    base = _platform_groups_cached(platform) if plan.platform is not None else []
    steady = [g for g in base + own if not g.transient]
    # 1. per-node pods (DaemonSets, then Longhorn's instance managers: longhorn-manager starts one on its
    #    node with the tolerations of its `taintToleration` setting, i.e. wherever the manager runs)
    for g in sorted([g for g in steady if g.per_node], key=lambda g: bool(g.node_cpu_fraction)):
        for n in nodes:
            if g.node_cpu_fraction:
                if not any("longhorn-manager" in p.group.owner for p in n.pods):
                    continue
            elif node_rejects(g, n) is not None:
                continue
            cpu = g.cpu + g.node_cpu_fraction * n.cpu
            if cpu > n.free_cpu + 1e-9 or g.memory > n.free_memory + 1:
                result.unplaced.append(Unplaced(g, 1, f"node {n.name} (pool {n.pool}) is too full for it"))
                continue
            n.take(Pod(g, cpu, g.memory))
    # 2. platform, then the stack, then 3. the drill's copy
    drill = drill_copy(plan) if plan.platform is not None else []
    for batch in (sorted([g for g in steady if not g.per_node and g.platform], key=_sort_key),
                  sorted([g for g in steady if not g.per_node and not g.platform], key=_sort_key),
                  sorted(drill, key=_sort_key)):
        for g in batch:
            missing, why = 0, ""
            for _ in range(g.count):
                node, reason_ = _place_one(g, nodes)
                if node is None:
                    missing, why = missing + 1, reason_
            if missing:
                result.unplaced.append(Unplaced(g, missing, why))
    result.own += drill
    # 4. transient pods one group at a time (not kept), then the HPA's extra pods (kept, cumulatively)
    for g in [g for g in own if g.transient]:
        trial = copy.deepcopy(nodes)
        for _ in range(g.count):
            node, why = _place_one(g, trial)
            if node is None:
                result.transient_unplaced.append(Unplaced(g, 1, why))
                break
    for g in [g for g in own if g.hpa_extra]:
        for i in range(g.hpa_extra):
            node, why = _place_one(g, nodes)
            if node is None:
                result.hpa_unplaced.append(Unplaced(g, g.hpa_extra - i, why))
                break
    return result


# ---------------------------------------------------------------- analyzer


def _fix(u: Unplaced) -> str:
    # The reason names, per pool, why its nodes were refused: the first kind that applies decides the fix.
    if "anti-affinity" in u.reason:
        return "the pool needs at least as many nodes as the replica count (raise its minimum size) or fewer replicas"
    if "too full" in u.reason:
        return ("raise the pool's minimum size (lfh:platform.cluster.nodePools.<pool>), choose a larger instance type or "
                "enable its autoscaler, or lower the requests")
    return ("give the pods the tolerations/nodeSelector of the pool meant for them (the platform contract's "
            "`scheduling`), or add a pool they may use")


def analyze(plan: Plan) -> None:
    if plan.role not in ("platform", "client"):
        return
    p = place(plan)
    for u in p.unplaced:
        if u.group.platform and plan.platform is not None:
            continue  # the platform plan reports its own pods
        plan.findings.append(Finding(CHECK, "error", u.group.urn or _stack_urn(plan), (
            f"{u.group.owner}: {u.missing} of {u.group.count if not u.group.per_node else 'its'} pod(s) cannot be scheduled "
            f"({u.group.cpu:g} CPU / {u.group.memory / GIB:.2f} GiB each) — {u.reason}. Fix: {_fix(u)}")))
    for u in p.transient_unplaced:
        plan.findings.append(Finding(CHECK, "error", u.group.urn or _stack_urn(plan), (
            f"{u.group.owner} (runs to completion): its pod fits on no node next to the steady state — {u.reason}. "
            f"Fix: {_fix(u)}")))
    # HPA pods beyond the replicas that fit nowhere are capacity planning, not a defect of the stack: the
    # section (and `cost`) lists them.
    plan.sections["scheduling"] = section(p)


def section(p: Placement) -> dict[str, Any]:
    if not p.checked:
        return {"title": "scheduling (pods placed on the platform's node pools)", "text": [f"not checked: {p.reason}"],
                "data": {"checked": False, "reason": p.reason}}
    text = []
    for row in p.pool_use():
        text.append(f"{row['pool']} ({row['nodes']} × {row['instanceType']}, "
                    + ("autoscaled to max" if row["autoscaled"] else "minimum size, no autoscaler")
                    + f"): requested {row['requestedCpu']:.2f}/{row['allocatableCpu']:.2f} CPU, "
                    f"{row['requestedMemoryGiB']:.1f}/{row['allocatableMemoryGiB']:.1f} GiB "
                    f"(this stack {row['thisStackCpu']:.2f} CPU / {row['thisStackMemoryGiB']:.1f} GiB), {row['pods']} pods")
    for u in p.unplaced + p.transient_unplaced:
        text.append(f"UNSCHEDULABLE {u.group.owner}: {u.missing} pod(s) — {u.reason}")
    for u in p.hpa_unplaced:
        text.append(f"HPA ceiling unreachable {u.group.owner}: {u.missing} pod(s)")
    return {"title": "scheduling (pods placed on the platform's node pools)", "text": text, "data": {
        "checked": True, "fits": p.fits, "pools": p.pool_use(),
        "unschedulable": [{"owner": u.group.owner, "missing": u.missing, "reason": u.reason}
                          for u in p.unplaced + p.transient_unplaced],
        "hpaCeilingUnreachable": [{"owner": u.group.owner, "missing": u.missing} for u in p.hpa_unplaced]}}


def _stack_urn(plan: Plan) -> str:
    return f"urn:pulumi:{plan.stack}::lfh::pulumi:pulumi:Stack::lfh-{plan.stack}"


__all__ = ["Placement", "analyze", "apply_modifiers", "build_nodes", "drill_copy", "groups_of", "place", "pod_groups",
           "tolerates"]
