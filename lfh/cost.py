"""Sizing, capacity and cost preview, read from a plan's recorded and rendered objects.

One implementation of "sum the requests of a plan" (``sizing``), reused by the plan's cost section,
`python -m lfh cost STACK`, and any other sizing report: it reads only what the cluster will hold — our
Kubernetes manifests and every object the stack's Helm releases render (Deployments, StatefulSets,
DaemonSets, ReplicaSets, Jobs, CronJobs, Pods, PVCs, HPAs; hooks count as transient Jobs) and the pods
operators start for custom resources (Percona `PerconaServerMongoDB`, TyKO `TypesenseCluster`, MinIO
`Tenant`, prometheus-operator's `Prometheus`/`Alertmanager`, envoy-gateway's `EnvoyProxy`) — never
component internals or chart value paths, so it works on whatever a plan contains. A container that
sets no requests counts 0 and is named (`Workload.missing_requests`).

Node pools come from the platform plan (EKS node groups, AKS agent pools, GKE node pools: instance
shape, min/max nodes, whether an autoscaler may grow them), each node's allocatable after the system
reserve. Capacity is the placement of ``lfh.plan.scheduling`` (every pod, platform and stack, put on
those nodes as kube-scheduler would): the cost report shows it, the plan's `scheduling` check turns
what does not fit into error findings.

Cost: node pools, control plane, load balancers, NAT, block storage, buckets and KMS keys priced from
the dated table in ``lfh/prices.py``; a client stack pays its requests' share of the platform nodes.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional

from . import prices
from .config.base import camel
from .plan.model import Plan

GIB = 1024 ** 3
_SUFFIX = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "Pi": 1024 ** 5, "Ei": 1024 ** 6,
}
_QTY = re.compile(r"^\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def quantity(value: Any) -> float:
    """A Kubernetes quantity as a number in base units (`500m` → 0.5, `1Gi` → 1073741824)."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    m = _QTY.match(str(value))
    if not m or m.group(2) not in _SUFFIX:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


# ---------------------------------------------------------------- what a pod asks for


@dataclass
class PodSize:
    """Requests and limits of one pod (CPU in cores, memory in bytes)."""

    cpu_requests: float = 0.0
    cpu_limits: float = 0.0
    memory_requests: float = 0.0
    memory_limits: float = 0.0
    #: Containers that set no CPU or memory request (they count as 0 here; the LimitRange may fill them).
    unset: int = 0

    def __add__(self, other: "PodSize") -> "PodSize":
        return PodSize(self.cpu_requests + other.cpu_requests, self.cpu_limits + other.cpu_limits,
                       self.memory_requests + other.memory_requests, self.memory_limits + other.memory_limits,
                       self.unset + other.unset)

    def max(self, other: "PodSize") -> "PodSize":
        return PodSize(max(self.cpu_requests, other.cpu_requests), max(self.cpu_limits, other.cpu_limits),
                       max(self.memory_requests, other.memory_requests), max(self.memory_limits, other.memory_limits),
                       self.unset + other.unset)


def container_size(resources: Any) -> PodSize:
    resources = resources if isinstance(resources, dict) else {}
    req = resources.get("requests") or {}
    lim = resources.get("limits") or {}
    # Kubernetes defaults a missing request to the limit.
    cpu_req = req.get("cpu", lim.get("cpu"))
    mem_req = req.get("memory", lim.get("memory"))
    return PodSize(quantity(cpu_req), quantity(lim.get("cpu")), quantity(mem_req), quantity(lim.get("memory")),
                   int(cpu_req is None or mem_req is None))


def pod_size(pod_spec: dict[str, Any]) -> PodSize:
    """The effective requests/limits of a pod, as the scheduler computes them.

    App containers and restartable (sidecar) init containers add up; a plain init container runs
    alone, so the pod needs at least the largest of them.
    """
    total = PodSize()
    for c in pod_spec.get("containers") or []:
        total = total + container_size(c.get("resources"))
    largest_init = PodSize()
    for c in pod_spec.get("initContainers") or []:
        size = container_size(c.get("resources"))
        if c.get("restartPolicy") == "Always":
            total = total + size
        else:
            largest_init = largest_init.max(PodSize(size.cpu_requests, size.cpu_limits, size.memory_requests, size.memory_limits))
    overhead = pod_spec.get("overhead") or {}
    total = total + PodSize(quantity(overhead.get("cpu")), 0, quantity(overhead.get("memory")), 0)
    return total.max(largest_init) if largest_init.cpu_requests or largest_init.memory_requests else total


# ---------------------------------------------------------------- workloads of a plan


@dataclass
class Workload:
    """One thing that runs pods (or holds storage), with its per-pod size and replica counts."""

    namespace: str
    kind: str
    name: str
    replicas: int
    pod: PodSize
    #: Upper bound from an HPA (== replicas without one).
    max_replicas: int = 0
    #: DaemonSets: `replicas` is per node.
    per_node: bool = False
    #: Storage this workload or object claims, in bytes (all replicas), and its StorageClass.
    storage: float = 0.0
    storage_class: str = ""
    #: `manifest`, `custom resource`, or `Helm release <namespace>/<name>` for a rendered object.
    source: str = "manifest"
    #: What it belongs to for reports: the pinned chart key of a Helm release (`cert-manager`), the
    #: custom resource's controller (`envoy-gateway` for an EnvoyProxy), else "".
    group: str = ""
    #: Runs to completion (Job, CronJob, a chart's hook/init job): counted in the totals, and also
    #: reported apart so steady-state views can leave it out.
    transient: bool = False
    tolerations: list = field(default_factory=list)
    node_selector: dict = field(default_factory=dict)
    urn: str = ""
    #: Containers that set no CPU or memory request (counted as 0): `container grafana`, `mongod`.
    missing_requests: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.max_replicas = max(self.max_replicas, self.replicas)

    @property
    def total(self) -> PodSize:
        return _scale(self.pod, self.replicas)

    @property
    def total_at_max(self) -> PodSize:
        return _scale(self.pod, self.max_replicas)


def _scale(p: PodSize, n: int) -> PodSize:
    return PodSize(p.cpu_requests * n, p.cpu_limits * n, p.memory_requests * n, p.memory_limits * n, p.unset * n)


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _claim_storage(claim_spec: dict[str, Any]) -> tuple[float, str]:
    spec = claim_spec or {}
    req = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    return quantity(req), str(spec.get("storageClassName") or "")


def containers_without_requests(pod_spec: dict[str, Any]) -> list[str]:
    """The containers of a pod spec that set no CPU or no memory request (a limit counts as one)."""
    out = []
    for part, label in (("containers", "container"), ("initContainers", "init container")):
        for c in pod_spec.get(part) or []:
            if not _has_requests(c.get("resources")):
                out.append(f"{label} {c.get('name', '?')}")
    return out


def _has_requests(resources: Any) -> bool:
    return container_size(resources).unset == 0


def _pod_workload(ns: str, kind: str, name: str, replicas: int, spec: dict, urn: str, **kw: Any) -> Workload:
    return Workload(ns, kind, name, replicas, pod_size(spec), urn=urn, missing_requests=containers_without_requests(spec),
                    tolerations=list(spec.get("tolerations") or []), node_selector=dict(spec.get("nodeSelector") or {}), **kw)


@dataclass
class OperatorDefaults:
    """What an operator adds to the pods of its custom resources, read from its (rendered) Deployment."""

    #: prometheus-operator's config-reloader sidecar, sized by its `--config-reloader-{cpu,memory}-
    #: {request,limit}` flags (kube-prometheus-stack sets them from `prometheusOperator.
    #: prometheusConfigReloader.resources`; "0" means unset). Unknown (no operator): no requests.
    config_reloader: PodSize = field(default_factory=lambda: PodSize(unset=1))


#: envoyproxy/gateway v1.9.0 api/v1alpha1: an EnvoyProxy's Envoy container defaults to 100m / 512Mi
#: (DefaultResourceRequirements) and every Envoy pod has a shutdown-manager sidecar at 10m / 32Mi
#: (DefaultShutdownManagerContainerResourceRequirements).
ENVOY_CONTAINER_DEFAULT = {"requests": {"cpu": "100m", "memory": "512Mi"}}
ENVOY_SHUTDOWN_MANAGER = {"requests": {"cpu": "10m", "memory": "32Mi"}}


def operator_defaults(objects: Iterable[dict[str, Any]]) -> OperatorDefaults:
    """Read the operators' configuration from their Deployments' flags."""
    out = OperatorDefaults()
    for obj in objects:
        for c in (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
            flags = {k: v for k, eq, v in (str(a).partition("=") for a in c.get("args") or []) if eq}
            if "--prometheus-config-reloader" in flags:
                out.config_reloader = container_size({
                    part: {k: flags[f"--config-reloader-{k}-{flag}"] for k in ("cpu", "memory")
                           if flags.get(f"--config-reloader-{k}-{flag}") not in (None, "", "0")}
                    for part, flag in (("requests", "request"), ("limits", "limit"))})
    return out


def _from_manifest(urn: str, obj: dict[str, Any], operators: Optional[OperatorDefaults] = None) -> Iterable[Workload]:
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "default", meta.get("name") or "?"
    spec = obj.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    if kind in ("Deployment", "ReplicaSet"):
        yield _pod_workload(ns, kind, name, _int(spec.get("replicas"), 1), template, urn)
    elif kind == "StatefulSet":
        replicas = _int(spec.get("replicas"), 1)
        storage, sc = 0.0, ""
        for vct in spec.get("volumeClaimTemplates") or []:
            size, sc_ = _claim_storage(vct.get("spec") or {})
            storage += size * replicas
            sc = sc or sc_
        yield _pod_workload(ns, kind, name, replicas, template, urn, storage=storage, storage_class=sc)
    elif kind == "DaemonSet":
        yield _pod_workload(ns, kind, name, 1, template, urn, per_node=True)
    elif kind == "Job":
        yield _pod_workload(ns, kind, name, _int(spec.get("parallelism"), 1), template, urn, transient=True)
    elif kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        yield _pod_workload(ns, kind, name, _int(job.get("parallelism"), 1), (job.get("template") or {}).get("spec") or {}, urn,
                            transient=True)
    elif kind == "Pod":
        yield _pod_workload(ns, kind, name, 1, spec, urn)
    elif kind == "PersistentVolumeClaim":
        size, sc = _claim_storage(spec)
        yield Workload(ns, kind, name, 0, PodSize(), storage=size, storage_class=sc, urn=urn)
    elif kind == "PerconaServerMongoDB":
        yield from _psmdb(urn, ns, name, spec)
    elif kind == "TypesenseCluster":
        storage = spec.get("storage") or {}
        replicas = _int(spec.get("replicas"), 3)
        yield Workload(ns, kind, name, replicas, container_size(spec.get("resources")), source="custom resource",
                       storage=quantity(storage.get("size") or "100Mi") * replicas,
                       storage_class=str(storage.get("storageClassName") or ""), urn=urn,
                       missing_requests=[] if _has_requests(spec.get("resources")) else ["typesense"],
                       tolerations=list(spec.get("tolerations") or []), node_selector=dict(spec.get("nodeSelector") or {}))
    elif kind == "EnvoyProxy":
        # The Envoy fleet the gateway controller creates for a Gateway, sized by its EnvoyProxy.
        dep = ((spec.get("provider") or {}).get("kubernetes") or {}).get("envoyDeployment") or {}
        pod = dep.get("pod") or {}
        envoy = (dep.get("container") or {}).get("resources") or ENVOY_CONTAINER_DEFAULT
        yield Workload(ns, kind, name, _int(dep.get("replicas"), 1),
                       container_size(envoy) + container_size(ENVOY_SHUTDOWN_MANAGER),
                       source="custom resource", group="envoy-gateway", urn=urn,
                       tolerations=list(pod.get("tolerations") or []), node_selector=dict(pod.get("nodeSelector") or {}))
    elif kind in ("Prometheus", "Alertmanager") and str(obj.get("apiVersion", "")).startswith("monitoring.coreos.com/"):
        # prometheus-operator runs a StatefulSet of replicas (× shards) pods: the server with
        # spec.resources, the config-reloader sidecar sized by the operator's flags, Thanos if set.
        replicas = _int(spec.get("replicas"), 1) * (_int(spec.get("shards"), 1) if kind == "Prometheus" else 1)
        reloader = (operators or OperatorDefaults()).config_reloader
        pod = container_size(spec.get("resources")) + reloader
        missing = ([] if _has_requests(spec.get("resources")) else [kind.lower()]) + ["config-reloader"] * bool(reloader.unset)
        if kind == "Prometheus" and isinstance(spec.get("thanos"), dict):
            pod = pod + container_size(spec["thanos"].get("resources"))
        size, sc = _claim_storage(((spec.get("storage") or {}).get("volumeClaimTemplate") or {}).get("spec") or {})
        yield Workload(ns, kind, name, replicas, pod, source="custom resource", storage=size * replicas,
                       storage_class=sc, urn=urn, missing_requests=missing,
                       tolerations=list(spec.get("tolerations") or []), node_selector=dict(spec.get("nodeSelector") or {}))
    elif kind == "Tenant" and str(obj.get("apiVersion", "")).startswith("minio.min.io/"):
        for pool in spec.get("pools") or []:
            servers = _int(pool.get("servers"), 1)
            size, sc = _claim_storage((pool.get("volumeClaimTemplate") or {}).get("spec") or {})
            yield Workload(ns, kind, f"{name}/{pool.get('name', 'pool')}", servers, container_size(pool.get("resources")),
                           source="custom resource", storage=size * _int(pool.get("volumesPerServer"), 1) * servers,
                           storage_class=sc, urn=urn, tolerations=list(pool.get("tolerations") or []),
                           missing_requests=[] if _has_requests(pool.get("resources")) else ["minio"],
                           node_selector=dict(pool.get("nodeSelector") or {}))


def _psmdb(urn: str, ns: str, name: str, spec: dict[str, Any]) -> Iterable[Workload]:
    """Percona Server for MongoDB: every replset member (and arbiter/non-voting/config server/mongos)."""
    backup = spec.get("backup") or {}
    # The pbm-agent runs as a sidecar in every data-bearing member when backups are on.
    backup_on = backup.get("enabled", True)
    agent = container_size(backup.get("resources")) if backup_on and backup.get("resources") else PodSize()

    def member(part: str, cfg: dict, default_size: int, data: bool = True) -> Optional[Workload]:
        if not cfg or cfg.get("enabled") is False:
            return None
        size = _int(cfg.get("size"), default_size)
        pod = container_size(cfg.get("resources"))
        missing = [] if _has_requests(cfg.get("resources")) else ["mongod" if part != "mongos" else "mongos"]
        for sc in cfg.get("sidecars") or []:
            pod = pod + container_size(sc.get("resources"))
            missing += [] if _has_requests(sc.get("resources")) else [f"sidecar {sc.get('name', '?')}"]
        storage, sclass = 0.0, ""
        if data:
            pod = pod + agent
            missing += [] if not backup_on or _has_requests(backup.get("resources")) else ["backup-agent"]
            pvc = ((cfg.get("volumeSpec") or {}).get("persistentVolumeClaim")) or {}
            one, sclass = _claim_storage(pvc)
            storage = one * size
        return Workload(ns, "PerconaServerMongoDB", f"{name}/{part}", size, pod, source="custom resource",
                        storage=storage, storage_class=sclass, urn=urn, missing_requests=missing,
                        tolerations=list(cfg.get("tolerations") or []), node_selector=dict(cfg.get("nodeSelector") or {}))

    for rs in spec.get("replsets") or []:
        rs_name = rs.get("name", "rs")
        for w in (member(rs_name, rs, 3),
                  member(f"{rs_name}-arbiter", rs.get("arbiter") or {}, 1, data=False) if (rs.get("arbiter") or {}).get("enabled") else None,
                  member(f"{rs_name}-nonvoting", rs.get("nonvoting") or {}, 1) if (rs.get("nonvoting") or {}).get("enabled") else None):
            if w is not None:
                yield w
    sharding = spec.get("sharding") or {}
    if sharding.get("enabled"):
        for w in (member("cfg", sharding.get("configsvrReplSet") or {}, 3),
                  member("mongos", sharding.get("mongos") or {}, 2, data=False)):
            if w is not None:
                yield w


def workloads(plan: Plan) -> list[Workload]:
    """Every workload and storage claim of a plan: our manifests and custom resources, and every object
    its Helm releases render (replicas × pod template requests; DaemonSets per node; Jobs and hooks
    transient)."""
    from .charts import chart_for
    from .plan.render import cluster_objects

    # Ours (server-side patches change someone else's objects: they add nothing) and rendered ones.
    objects = cluster_objects(plan, phases=("object", "hook"))
    charts = {r.urn: (c.key if (c := chart_for(h["chart"], h["repository"])) else "") for r, h in plan.helm_releases()}
    operators = operator_defaults(o.obj for o in objects)
    out: list[Workload] = []
    hpas: dict[tuple[str, str, str], int] = {}
    for o in objects:
        if o.kind == "HorizontalPodAutoscaler":
            spec = o.obj.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            hpas[(o.namespace or "default", ref.get("kind", ""), ref.get("name", ""))] = _int(spec.get("maxReplicas"), 1)
            continue
        try:
            found = list(_from_manifest(o.urn, o.obj, operators))
        except ValueError:
            continue  # an unparsable quantity is a conformance error, reported there
        if o.rendered:
            for w in found:
                w.source, w.group = o.origin, w.group or charts.get(o.urn, "")
                w.transient = w.transient or o.phase == "hook"  # runs around install/upgrade, then frees its requests
        out.extend(found)
    for w in out:
        top = w.max_replicas
        w.max_replicas = max(top, hpas.get((w.namespace, w.kind, w.name), 0))
    return out


@dataclass
class Totals:
    """Summed requests/limits (cores, GiB), storage (GiB) and replicas of a set of workloads."""

    cpu_requests: float = 0.0
    cpu_limits: float = 0.0
    memory_requests_gib: float = 0.0
    memory_limits_gib: float = 0.0
    storage_gib: float = 0.0
    replicas: int = 0
    max_replicas: int = 0
    cpu_requests_at_max: float = 0.0
    memory_requests_at_max_gib: float = 0.0
    #: DaemonSet requests per node (not included above: they scale with nodes, not with the stack).
    per_node_cpu_requests: float = 0.0
    per_node_memory_requests_gib: float = 0.0
    #: Containers of the pod templates (not × replicas) that set no CPU or memory request.
    containers_without_requests: int = 0
    #: Of the requests above, what Jobs/CronJobs and chart hooks hold while they run.
    transient_cpu_requests: float = 0.0
    transient_memory_requests_gib: float = 0.0

    def add(self, w: Workload) -> None:
        self.storage_gib += w.storage / GIB
        if w.per_node:
            self.per_node_cpu_requests += w.pod.cpu_requests
            self.per_node_memory_requests_gib += w.pod.memory_requests / GIB
            self.containers_without_requests += len(w.missing_requests)
            return
        t, m = w.total, w.total_at_max
        self.cpu_requests += t.cpu_requests
        self.cpu_limits += t.cpu_limits
        self.memory_requests_gib += t.memory_requests / GIB
        self.memory_limits_gib += t.memory_limits / GIB
        self.replicas += w.replicas
        self.max_replicas += w.max_replicas
        self.cpu_requests_at_max += m.cpu_requests
        self.memory_requests_at_max_gib += m.memory_requests / GIB
        self.containers_without_requests += len(w.missing_requests)
        if w.transient:
            self.transient_cpu_requests += t.cpu_requests
            self.transient_memory_requests_gib += t.memory_requests / GIB

    def rounded(self) -> dict[str, Any]:
        """camelCase keys (`memoryRequestsGiB`) as report.json spells them, values rounded."""
        return {camel(k).replace("Gib", "GiB"): (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class Sizing:
    workloads: list[Workload]
    namespaces: dict[str, Totals]
    stack: Totals


def sizing(plan: Plan) -> Sizing:
    """Sum the requests/limits, storage and replicas of a plan, per namespace and for the stack.

    The one implementation of "sum requests from a plan": reuse it rather than re-walking manifests.
    """
    ws = workloads(plan)
    per_ns: dict[str, Totals] = {}
    stack = Totals()
    for w in ws:
        per_ns.setdefault(w.namespace, Totals()).add(w)
        stack.add(w)
    return Sizing(ws, dict(sorted(per_ns.items())), stack)


# ---------------------------------------------------------------- node pools and capacity


@dataclass
class NodePool:
    name: str
    cloud: str
    instance_type: str
    cpu: float
    memory_gib: float
    min_nodes: int
    desired_nodes: int
    max_nodes: int
    taints: list[dict[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    disk_gib: float = 0.0
    #: The cloud's node autoscaler may grow this pool to `max_nodes` (AKS `enableAutoScaling`, a GKE
    #: `autoscaling` block, an EKS node group a Cluster Autoscaler in the plan discovers); the
    #: scheduling check counts the pool at its maximum only then (`lfh.plan.scheduling`).
    autoscaled: bool = False
    #: URN of the recorded pool resource ('' for pools from config).
    urn: str = ""

    @property
    def capacity_nodes(self) -> int:
        """Nodes the pool can reach: its maximum when an autoscaler serves it, else its minimum (nothing
        ever adds the rest)."""
        return self.max_nodes if self.autoscaled else self.min_nodes

    @property
    def known(self) -> bool:
        return self.cpu > 0 and self.memory_gib > 0

    @property
    def allocatable(self) -> tuple[float, float]:
        return allocatable(self.cpu, self.memory_gib)

    @property
    def well_known_labels(self) -> dict[str, str]:
        """Labels every node of the pool carries without our asking: the kubelet sets `kubernetes.io/os`
        (Kubernetes "Well-Known Labels"; our pools run Linux) and the cloud `node.kubernetes.io/instance-type`.
        Charts select on them (cert-manager, Argo CD: `kubernetes.io/os: linux`)."""
        return {"kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": self.instance_type}


def allocatable(cpu: float, memory_gib: float) -> tuple[float, float]:
    """A node's allocatable CPU (cores) and memory (GiB) after the system reserve.

    GKE's published formula (AKS and EKS reserve about as much): CPU 6 % of the first core, 1 % of
    the next, 0.5 % of the next 2, 0.25 % above 4; memory 25 % of the first 4 GiB, 20 % of the next 4,
    10 % of the next 8, 6 % of the next 112, 2 % above 128 GiB, plus a 100 MiB eviction threshold.
    """
    cpu_reserved = 0.0
    for upto, rate in ((1, 0.06), (2, 0.01), (4, 0.005), (float("inf"), 0.0025)):
        lower = {1: 0, 2: 1, 4: 2}.get(upto, 4)
        cpu_reserved += max(0.0, min(cpu, upto) - lower) * rate
    mem_reserved, lower = 0.0, 0.0
    for upto, rate in ((4, 0.25), (8, 0.20), (16, 0.10), (128, 0.06), (float("inf"), 0.02)):
        mem_reserved += max(0.0, min(memory_gib, upto) - lower) * rate
        lower = upto
    return cpu - cpu_reserved, memory_gib - mem_reserved - 100 / 1024


def _shape(cloud: str, instance_type: str) -> tuple[float, float]:
    return prices.SHAPES.get(cloud, {}).get(instance_type, (0.0, 0.0))


def _taint(t: Any) -> dict[str, str]:
    """Taints as `{key, value, effect}` whatever the cloud spells them (`k=v:NoSchedule`, NO_SCHEDULE)."""
    if isinstance(t, str):
        kv, _, effect = t.partition(":")
        k, _, v = kv.partition("=")
        return {"key": k, "value": v, "effect": effect}
    effect = str(t.get("effect", ""))
    effect = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}.get(effect, effect)
    return {"key": str(t.get("key", "")), "value": str(t.get("value", "") or ""), "effect": effect}


#: The Cluster Autoscaler's flags that make it manage EKS managed node groups (its AWS auto-discovery).
EKS_AUTOSCALER_FLAGS = ("--cloud-provider=aws", "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
                        "k8s.io/cluster-autoscaler/")


def eks_autoscaler_clusters(plan: Plan) -> set[str]:
    """EKS cluster names a Cluster Autoscaler in the plan discovers node groups of (by its flags)."""
    out: set[str] = set()
    for _, obj in plan.manifests():
        if obj.get("kind") != "Deployment":
            continue
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in spec.get("containers") or []:
            args = [str(a) for a in [*(c.get("command") or []), *(c.get("args") or [])]]
            if EKS_AUTOSCALER_FLAGS[0] in args:
                out.update(a.split(EKS_AUTOSCALER_FLAGS[1], 1)[1] for a in args if a.startswith(EKS_AUTOSCALER_FLAGS[1]))
    return out


def node_pools(plan: Plan) -> list[NodePool]:
    """The node pools a platform plan records (EKS node groups, AKS agent pools, GKE node pools), each
    marked autoscaled by what the plan shows: AKS `enableAutoScaling`, a GKE `autoscaling` block, an EKS
    node group of a cluster whose Cluster Autoscaler discovers it."""
    pools: list[NodePool] = []
    eks_autoscaled = eks_autoscaler_clusters(plan)
    gke_zones = 1
    for r in plan.resources:
        if r.type == "gcp:container/cluster:Cluster":
            locs = r.inputs.get("nodeLocations") or []
            loc = str(r.inputs.get("location", ""))
            # A regional cluster (us-central1) runs node counts per zone, in 3 zones by default.
            gke_zones = len(locs) if locs else (3 if loc.count("-") == 1 else 1)
    for r in plan.resources:
        i = r.inputs
        if r.type == "aws:eks/nodeGroup:NodeGroup":
            types = i.get("instanceTypes") or ["?"]
            sc = i.get("scalingConfig") or {}
            cpu, mem = _shape("aws", types[0])
            pools.append(NodePool(str(i.get("nodeGroupName") or r.name), "aws", types[0], cpu, mem,
                                  _int(sc.get("minSize"), 0), _int(sc.get("desiredSize"), _int(sc.get("minSize"), 0)),
                                  _int(sc.get("maxSize"), _int(sc.get("desiredSize"), 0)),
                                  [_taint(t) for t in i.get("taints") or []], dict(i.get("labels") or {}),
                                  float(i.get("diskSize") or 0), autoscaled=str(i.get("clusterName")) in eks_autoscaled,
                                  urn=r.urn))
        elif r.type.startswith("azure-native:containerservice") and (r.type.endswith(":ManagedCluster") or r.type.endswith(":AgentPool")):
            profiles = i.get("agentPoolProfiles") or [] if r.type.endswith(":ManagedCluster") else [i]
            for p in profiles:
                vm = str(p.get("vmSize") or "?")
                cpu, mem = _shape("azure", vm)
                count = _int(p.get("count"), _int(p.get("minCount"), 1))
                auto = bool(p.get("enableAutoScaling"))
                pools.append(NodePool(str(p.get("name") or p.get("agentPoolName") or r.name), "azure", vm, cpu, mem,
                                      _int(p.get("minCount"), count) if auto else count, count,
                                      _int(p.get("maxCount"), count) if auto else count,
                                      [_taint(t) for t in p.get("nodeTaints") or []], dict(p.get("nodeLabels") or {}),
                                      float(p.get("osDiskSizeGB") or 0), autoscaled=auto, urn=r.urn))
        elif r.type == "gcp:container/nodePool:NodePool":
            nc = i.get("nodeConfig") or {}
            mt = str(nc.get("machineType") or "e2-medium")
            cpu, mem = _shape("gcp", mt)
            auto = i.get("autoscaling") or {}
            zones = len(i.get("nodeLocations") or []) or gke_zones
            count = _int(i.get("nodeCount"), _int(i.get("initialNodeCount"), 1)) * zones
            mn = _int(auto.get("totalMinNodeCount"), _int(auto.get("minNodeCount"), count // zones) * zones) if auto else count
            mx = _int(auto.get("totalMaxNodeCount"), _int(auto.get("maxNodeCount"), count // zones) * zones) if auto else count
            pools.append(NodePool(str(i.get("name") or r.name), "gcp", mt, cpu, mem, mn, max(count, mn), mx,
                                  [_taint(t) for t in nc.get("taints") or []], dict(nc.get("labels") or {}),
                                  float(nc.get("diskSizeGb") or 0), autoscaled=bool(auto), urn=r.urn))
    if not pools and plan.config is not None and plan.config.platform is not None:
        pools = _pools_from_config(plan.config.platform.cluster)
    return pools


def _pools_from_config(cluster: Any) -> list[NodePool]:
    """An existing cluster's nodes, when its config describes them (no cloud resource records them)."""
    found = getattr(cluster, "node_pools", None) or getattr(cluster, "nodes", None) or []
    if isinstance(found, dict):
        found = [dict(v, name=k) if isinstance(v, dict) else v for k, v in found.items()]
    pools = []
    for p in found if isinstance(found, list) else []:
        get = (lambda k, d=None, p=p: p.get(k, d)) if isinstance(p, dict) else (lambda k, d=None, p=p: getattr(p, k, d))
        cpu = quantity(get("cpu", 0))
        mem = quantity(get("memory", 0)) / GIB if isinstance(get("memory", 0), str) else float(get("memory_gib", get("memory", 0)) or 0)
        count = _int(get("count", get("max_count", 1)), 1)
        pools.append(NodePool(str(get("name", "nodes")), "existing", str(get("instance_type", "") or "node"), cpu, mem,
                              count, count, _int(get("max_count", count), count),
                              [_taint(t) for t in get("taints", []) or []], dict(get("labels", {}) or {})))
    return pools


def eligible(w: Workload, pool: NodePool) -> bool:
    """Could this workload's pods run on this pool (taints tolerated, nodeSelector matched)?"""
    from .plan.scheduling import tolerates

    labels = {**pool.well_known_labels, **pool.labels}
    if any(labels.get(k) != str(v) for k, v in w.node_selector.items()):
        return False
    return all(tolerates(w.tolerations, t) for t in pool.taints)


# ---------------------------------------------------------------- cost


def cloud_of(plan: Plan) -> str:
    """`aws`, `azure`, `gcp` or `existing` for a platform plan (by the provider resources it records)."""
    kinds = {r.type.split(":", 1)[0] for r in plan.resources}
    for cloud, prefix in (("aws", "aws"), ("azure", "azure-native"), ("gcp", "gcp")):
        if prefix in kinds:
            return cloud
    if plan.config is not None and plan.config.platform is not None:
        provider = getattr(plan.config.platform.cluster, "provider", "existing")
        return provider if provider in prices.CLOUDS else "existing"
    return "existing"


_CONTROL_PLANES = ("aws:eks/cluster:Cluster", "gcp:container/cluster:Cluster")
_NAT = ("aws:ec2/natGateway:NatGateway", "gcp:compute/routerNat:RouterNat")
_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "gcp:storage/bucket:Bucket")
_KEYS = ("aws:kms/key:Key", "gcp:kms/cryptoKey:CryptoKey")


def _is(r_type: str, exact: tuple[str, ...], azure_suffix: str = "") -> bool:
    if r_type in exact:
        return True
    return bool(azure_suffix) and r_type.startswith("azure-native:") and r_type.endswith(azure_suffix)


def _storage_replication(platform: Optional[Plan]) -> dict[str, int]:
    """StorageClass name → how many copies of each byte it keeps (Longhorn `numberOfReplicas`)."""
    out: dict[str, int] = {}
    if platform is None:
        return out
    for _, obj in platform.manifests():
        if obj.get("kind") == "StorageClass":
            params = obj.get("parameters") or {}
            n = _int(params.get("numberOfReplicas"), 1)
            out[str((obj.get("metadata") or {}).get("name", ""))] = max(n, 1)
    return out


def estimate(plan: Plan, platform: Optional[Plan], sized: Sizing, pools: list[NodePool],
             bucket_gib: float = prices.ASSUMED_BUCKET_GIB) -> dict[str, Any]:
    """Monthly cost line items for a stack (a client stack pays its share of the platform's nodes)."""
    base = platform or plan
    cloud = cloud_of(base)
    items: list[dict[str, Any]] = []
    notes: list[str] = []
    svc = prices.SERVICES.get(cloud)
    hourly = prices.NODE_HOURLY.get(cloud, {})

    def add(item: str, qty: float, unit: str, unit_price: Optional[float], note: str = "") -> None:
        monthly = None if unit_price is None else round(qty * unit_price, 2)
        items.append({"item": item, "quantity": round(qty, 3), "unit": unit,
                      "unitPrice": unit_price, "monthly": monthly, "note": note})

    if svc is None:
        notes.append("existing cluster: nodes, disks and load balancers are billed by whoever runs it; "
                     "only counts are shown")
    replication = _storage_replication(base)
    if plan.role == "platform":
        for p in pools:
            price = hourly.get(p.instance_type)
            add(f"nodes {p.name} ({p.instance_type})", p.desired_nodes, "node-month",
                None if price is None else round(price * prices.HOURS_PER_MONTH, 2),
                f"desired {p.desired_nodes}, max {p.max_nodes}" + ("" if price is not None else "; no price for this type"))
            if p.disk_gib:
                add(f"node disks {p.name}", p.disk_gib * p.desired_nodes, "GiB-month", svc and svc["block_gib_month"])
        n = sum(1 for r in plan.resources if _is(r.type, _CONTROL_PLANES, ":ManagedCluster"))
        if n:
            add("managed control plane", n, "cluster-month", svc and round(svc["control_plane_hourly"] * prices.HOURS_PER_MONTH, 2))
        n = sum(1 for r in plan.resources if _is(r.type, _NAT, ":NatGateway"))
        if n:
            add("NAT gateways", n, "gateway-month", svc and round(svc["nat_gateway_hourly"] * prices.HOURS_PER_MONTH, 2),
                "before data processing charges")
    else:
        share = _node_share(sized, pools, hourly)
        if share is not None:
            nodes, pool = share
            add(f"share of platform nodes ({pool.name}: {pool.instance_type})", nodes, "node-month",
                round(hourly[pool.instance_type] * prices.HOURS_PER_MONTH, 2),
                f"{sized.stack.cpu_requests:.2f} CPU / {sized.stack.memory_requests_gib:.1f} GiB requested at rest, "
                "as node equivalents of whichever of CPU or memory fills a node first")
        elif svc is not None:
            notes.append("no priced node pool on the platform: the client's share of nodes is not estimated")
    lbs = sum(1 for r, o in plan.manifests() if not r.type.endswith("Patch") and (
        o.get("kind") == "Gateway" or (o.get("kind") == "Service" and (o.get("spec") or {}).get("type") == "LoadBalancer")))
    if lbs:
        add("load balancers", lbs, "LB-month", svc and round(svc["load_balancer_hourly"] * prices.HOURS_PER_MONTH, 2),
            "one per Gateway / LoadBalancer Service, before traffic charges")
    raw = sum(w.storage * replication.get(w.storage_class, 1) for w in sized.workloads) / GIB
    if raw:
        logical = sized.stack.storage_gib
        add("block storage (PVCs)", raw, "GiB-month", svc and svc["block_gib_month"],
            f"{logical:.0f} GiB claimed" + (f", {raw:.0f} GiB with storage replicas" if raw > logical + 1e-6 else ""))
    n = sum(1 for r in plan.resources if _is(r.type, _BUCKETS, ":BlobContainer"))
    if n:
        add("object storage (buckets)", n * bucket_gib, "GiB-month", svc and svc["object_gib_month"],
            f"{n} bucket(s) × {bucket_gib:g} GiB assumed")
    n = sum(1 for r in plan.resources if _is(r.type, _KEYS) or (r.type.startswith("azure-native:keyvault") and r.type.endswith(":Key")))
    if n:
        add("KMS keys", n, "key-month", svc and svc["kms_key_month"])
    priced = [i["monthly"] for i in items if i["monthly"] is not None]
    return {
        "cloud": cloud, "currency": prices.CURRENCY, "pricesDate": prices.PRICES_DATE, "pricesSource": prices.PRICES_SOURCE,
        "items": items, "total": round(sum(priced), 2), "notes": notes,
    }


def _node_share(sized: Sizing, pools: list[NodePool], hourly: dict[str, float]) -> Optional[tuple[float, NodePool]]:
    """The client's requests as node equivalents of the cheapest priced pool its pods may use.

    share = max(cpu / allocatable cpu, memory / allocatable memory): the resource that fills a node
    first decides how much of it the client occupies.
    """
    pods = [w for w in sized.workloads if w.replicas and not w.per_node]
    candidates = [p for p in pools if p.known and p.instance_type in hourly and (not pods or any(eligible(w, p) for w in pods))]
    if not candidates:
        return None
    pool = min(candidates, key=lambda p: hourly[p.instance_type] / max(p.allocatable[0], 1e-9))
    cpu, mem = pool.allocatable
    s = sized.stack
    return max(s.cpu_requests / cpu, s.memory_requests_gib / mem), pool


# ---------------------------------------------------------------- the plan section and the command


def _money(x: Optional[float]) -> str:
    if x is None:
        return "—"
    return f"{x:,.2f}" if x >= 1 else f"{x:.4f}"


def _fmt_table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def report(plan: Plan, platform: Optional[Plan] = None, bucket_gib: float = prices.ASSUMED_BUCKET_GIB) -> dict[str, Any]:
    """The cost section of a plan: `{"title", "text", "data"}` (data goes into report.json)."""
    from .plan.scheduling import place, section as placement_section

    sized = sizing(plan)
    base = platform or plan
    pools = node_pools(base)
    # Capacity is the scheduling check's placement (one implementation: lfh.plan.scheduling).
    placement = place(plan)
    cost = estimate(plan, platform, sized, pools, bucket_gib)

    text: list[str] = []
    rows = [[ns, f"{t.cpu_requests:.2f}", f"{t.cpu_limits:.2f}", f"{t.memory_requests_gib:.2f}", f"{t.memory_limits_gib:.2f}",
             f"{t.storage_gib:.0f}", str(t.replicas), str(t.max_replicas)] for ns, t in sized.namespaces.items()]
    s = sized.stack
    rows.append(["TOTAL", f"{s.cpu_requests:.2f}", f"{s.cpu_limits:.2f}", f"{s.memory_requests_gib:.2f}",
                 f"{s.memory_limits_gib:.2f}", f"{s.storage_gib:.0f}", str(s.replicas), str(s.max_replicas)])
    text += _fmt_table(rows, ["namespace", "cpu req", "cpu lim", "mem req GiB", "mem lim GiB", "storage GiB", "replicas", "max (HPA)"])
    if s.per_node_cpu_requests or s.per_node_memory_requests_gib:
        text.append(f"DaemonSets per node: {s.per_node_cpu_requests:.2f} CPU / {s.per_node_memory_requests_gib:.2f} GiB")
    text.append("limits count only containers that set them; Jobs/CronJobs and chart hooks are included"
                + (f" ({s.transient_cpu_requests:.2f} CPU / {s.transient_memory_requests_gib:.2f} GiB of the requests)"
                   if s.transient_cpu_requests or s.transient_memory_requests_gib else ""))
    if s.containers_without_requests:
        named = [f"{w.namespace}/{w.kind}/{w.name} {m}" for w in sized.workloads for m in w.missing_requests]
        text.append(f"{s.containers_without_requests} container(s) set no requests (counted as 0): " + ", ".join(named))
    text.append("")
    placed = placement_section(placement)
    if placement.checked:
        text.append("capacity (every pod placed on the platform's nodes, as the scheduling check does): "
                    + ("fits" if placement.fits else "DOES NOT FIT"))
        text += [f"  {line}" for line in placed["text"]]
    else:
        text.append(f"capacity: not checked — {placement.reason}")
    text.append("")
    crow = [[i["item"], f"{i['quantity']:g} {i['unit']}", _money(i["unitPrice"]),
             "—" if i["monthly"] is None else f"{i['monthly']:,.2f}"] for i in cost["items"]]
    crow.append(["TOTAL (priced items)", "", "", f"{cost['total']:,.2f}"])
    text += _fmt_table(crow, ["monthly cost estimate", "quantity", f"unit {cost['currency']}", f"{cost['currency']}/month"])
    text.append(f"prices as of {cost['pricesDate']} ({cost['cloud']}; {cost['pricesSource']})")
    text += [f"note: {n}" for n in cost["notes"]]

    data = {
        "stack": s.rounded(),
        "namespaces": {ns: t.rounded() for ns, t in sized.namespaces.items()},
        "workloads": [{
            "namespace": w.namespace, "kind": w.kind, "name": w.name, "source": w.source,
            "replicas": w.replicas, "maxReplicas": w.max_replicas, "perNode": w.per_node, "transient": w.transient,
            "group": w.group,
            "cpuRequests": round(w.pod.cpu_requests, 4), "cpuLimits": round(w.pod.cpu_limits, 4),
            "memoryRequestsGiB": round(w.pod.memory_requests / GIB, 4), "memoryLimitsGiB": round(w.pod.memory_limits / GIB, 4),
            "storageGiB": round(w.storage / GIB, 3), "storageClass": w.storage_class,
            "withoutRequests": w.missing_requests,
        } for w in sized.workloads],
        "capacity": placed["data"],
        "monthly": cost,
    }
    return {"title": "sizing and monthly cost (requests × replicas; prices dated)", "text": text, "data": data,
            "_placement": placement}


def analyze(plan: Plan) -> None:
    """Plan analyzer: the `cost` section (what does not fit is the `scheduling` check's error)."""
    section = report(plan, getattr(plan, "platform", None))
    section.pop("_placement")
    plan.sections["cost"] = section
