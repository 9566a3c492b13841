"""Every pod the cluster will run, as a pod spec: the pod templates of workloads (ours and rendered,
Helm hooks included) and the pods operators build from the custom resources we create or render.

The checks over pods (Pod Security admission, references, requests and images) read this one list.
For an operator's custom resource the pod spec is built as the operator builds it, as far as the
custom resource determines it (image, resources, security contexts, the Secrets it mounts); each
builder cites the operator source it follows.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from .model import Plan
from .model import dig as _get
from .render import ClusterObject, cluster_objects

#: Where the pod template sits in each workload kind.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass
class PodTemplate:
    """One pod (template) the cluster will run."""

    owner: ClusterObject
    #: The pod's metadata (labels, annotations) and spec, as the pod gets them.
    metadata: dict[str, Any]
    spec: dict[str, Any]
    #: For a pod an operator builds: what builds it (e.g. "the Percona operator's StatefulSet for replset rs0").
    built_by: str = ""
    #: `Kind/name` of objects the operator creates itself along with this pod (its ServiceAccount …),
    #: with the source that says so: they exist at run time though no plan object declares them.
    operator_creates: dict[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.owner.namespace

    @property
    def labels(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.metadata.get("labels") or {}).items()}

    def label(self) -> str:
        return self.owner.label() + (f" [{self.built_by}]" if self.built_by else "")

    def containers(self, *, ephemeral: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
        """(`initContainer`|`container`|`ephemeralContainer`, container), in the order Pod Security visits them."""
        for c in self.spec.get("initContainers") or []:
            yield "initContainer", c
        for c in self.spec.get("containers") or []:
            yield "container", c
        if ephemeral:
            for c in self.spec.get("ephemeralContainers") or []:
                yield "ephemeralContainer", c

    @property
    def service_account(self) -> str:
        return str(self.spec.get("serviceAccountName") or self.spec.get("serviceAccount") or "default")


def workload_template(o: ClusterObject) -> Optional[PodTemplate]:
    path = POD_SPEC_PATHS.get(o.kind)
    if path is None:
        return None
    template = _get(o.obj, *path) if path else o.obj
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        return None
    return PodTemplate(o, dict(template.get("metadata") or {}), template["spec"])


# ---------------------------------------------------------------- pods operators build


def _merge_containers(base: list[dict[str, Any]], patches: Any) -> list[dict[str, Any]]:
    """The operator's containers with the CR's `containers` merged in by name (strategic merge on
    name; a new name is appended), as prometheus-operator's k8s.MergePatchContainers does."""
    out = [copy.deepcopy(c) for c in base]
    for patch in patches or []:
        if not isinstance(patch, dict):
            continue
        for c in out:
            if c.get("name") == patch.get("name"):
                for key, value in patch.items():
                    if isinstance(value, dict) and isinstance(c.get(key), dict):
                        c[key] = {**c[key], **value}
                    else:
                        c[key] = value
                break
        else:
            out.append(copy.deepcopy(patch))
    return out


#: prometheus-operator v0.93: the container securityContext it gives the prometheus/alertmanager and
#: config-reloader containers (pkg/prometheus/server/statefulset.go, pkg/operator/config_reloader.go).
PROMETHEUS_OPERATOR_CONTAINER_SECURITY = {
    "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
#: The config-reloader's requests when the operator runs without `--config-reloader-*` flags
#: (cmd/operator/main.go: defaultReloaderCPU 10m, defaultReloaderMemory 50Mi); a flag value "0"
#: means "no request" ("Value "0" disables it and causes no request to be configured").
CONFIG_RELOADER_DEFAULTS = {"cpu": "10m", "memory": "50Mi"}


def _operator_args(objects: list[ClusterObject], flag: str) -> Optional[dict[str, str]]:
    """`--name=value` arguments of the (rendered) operator container that carries ``flag``."""
    for o in objects:
        t = workload_template(o)
        if t is None:
            continue
        for _, c in t.containers():
            args = [str(a) for a in (c.get("args") or [])]
            if any(a.startswith(flag) for a in args):
                return {a.split("=", 1)[0]: a.split("=", 1)[1] for a in args if a.startswith("--") and "=" in a}
    return None


def _reloader(objects: list[ClusterObject], name: str) -> dict[str, Any]:
    args = _operator_args(objects, "--prometheus-config-reloader=") or {}
    requests: dict[str, str] = {}
    for res, default in CONFIG_RELOADER_DEFAULTS.items():
        value = args.get(f"--config-reloader-{res}-request", default)
        if value not in ("0", ""):
            requests[res] = value
    return {"name": name, "image": args.get("--prometheus-config-reloader", "quay.io/prometheus-operator/prometheus-config-reloader"),
            "resources": {"requests": requests} if requests else {},
            "securityContext": dict(PROMETHEUS_OPERATOR_CONTAINER_SECURITY)}


def _prometheus_like(o: ClusterObject, objects: list[ClusterObject], main: str) -> PodTemplate:
    """The StatefulSet pod prometheus-operator builds for a Prometheus or Alertmanager (v0.93:
    pkg/prometheus/server/statefulset.go, pkg/alertmanager/statefulset.go): the main container with
    the CR's image/resources, the config-reloader sidecar and init container, the CR's `containers`
    merged by name, `initContainers` appended, the CR's pod securityContext, and `secrets`/`configMaps`
    mounted as volumes."""
    spec = o.obj.get("spec") or {}
    kind = o.kind.lower()
    base = [{"name": main, "image": spec.get("image") or "", "resources": spec.get("resources") or {},
             "securityContext": dict(PROMETHEUS_OPERATOR_CONTAINER_SECURITY)},
            _reloader(objects, "config-reloader")]
    volumes = [{"name": f"secret-{s}", "secret": {"secretName": s}} for s in spec.get("secrets") or []]
    volumes += [{"name": f"configmap-{c}", "configMap": {"name": c}} for c in spec.get("configMaps") or []]
    pod_spec: dict[str, Any] = {
        "containers": _merge_containers(base, spec.get("containers")),
        "initContainers": [_reloader(objects, "init-config-reloader")] + list(spec.get("initContainers") or []),
        "securityContext": spec.get("securityContext") or {},
        "serviceAccountName": spec.get("serviceAccountName") or "default",
        "volumes": volumes + list(spec.get("volumes") or []),
    }
    for key in ("hostNetwork", "hostUsers", "nodeSelector", "tolerations", "affinity"):
        if key in spec:
            pod_spec[key] = spec[key]
    # Pod labels: podMetadata.labels, then the selector labels (makeSelectorLabels in
    # pkg/prometheus/server/operator.go and pkg/alertmanager/operator.go; Prometheus adds the shard).
    selector = {"app.kubernetes.io/name": kind, "app.kubernetes.io/instance": o.name,
                "app.kubernetes.io/managed-by": "prometheus-operator", kind: o.name}
    if kind == "prometheus":
        selector.update({"operator.prometheus.io/name": o.name, "operator.prometheus.io/shard": "0"})
    metadata = dict(spec.get("podMetadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **selector}
    return PodTemplate(o, metadata, pod_spec, built_by=f"prometheus-operator's StatefulSet {kind}-{o.name}")


#: Percona operator 1.22 defaults when a replset/backup sets no security context
#: (pkg/apis/psmdb/v1/psmdb_defaults.go: runAsNonRoot true, runAsUser 1001; pod fsGroup 1001).
PSMDB_DEFAULT_CONTAINER_SECURITY = {"runAsNonRoot": True, "runAsUser": 1001}
PSMDB_DEFAULT_POD_SECURITY = {"fsGroup": 1001}


def _psmdb(o: ClusterObject, objects: list[ClusterObject]) -> list[PodTemplate]:
    """The replset StatefulSet pods the Percona operator 1.22 builds (pkg/psmdb/statefulset.go
    StatefulSpec, container.go, init.go): `mongod` with the replset's resources and security contexts,
    the `mongo-init` init container (operator image unless `initImage`, the replset's resources,
    `initContainerSecurityContext`), the `backup-agent` sidecar when backups are on (`backup.image`,
    `backup.resources`, `backup.containerSecurityContext`), the replset's `sidecars`, and the Secrets
    it mounts (internal users, key file, encryption key, TLS)."""
    spec = o.obj.get("spec") or {}
    secrets = spec.get("secrets") or {}
    name = o.name
    operator_image = ""
    for other in objects:
        t = workload_template(other)
        if t is not None and other.namespace == o.namespace:
            for _, c in t.containers():
                if "percona-server-mongodb-operator" in str(c.get("image", "")):
                    operator_image = str(c.get("image"))
    init_image = spec.get("initImage") or operator_image
    ssl = secrets.get("ssl") or f"{name}-ssl"
    out: list[PodTemplate] = []
    backup = spec.get("backup") or {}
    for rs in spec.get("replsets") or []:
        if not isinstance(rs, dict):
            continue
        resources = rs.get("resources") or {}
        container_sc = rs.get("containerSecurityContext") or dict(PSMDB_DEFAULT_CONTAINER_SECURITY)
        mongod = {"name": "mongod", "image": spec.get("image") or "", "resources": resources,
                  "securityContext": container_sc,
                  "ports": [{"name": "mongodb", "containerPort": int(rs.get("port") or 27017)}],
                  "envFrom": [{"secretRef": {"name": f"internal-{name}-users", "optional": False}}]}
        containers = [mongod] + list(rs.get("sidecars") or [])
        if backup.get("enabled"):
            containers.append({
                "name": "backup-agent", "image": backup.get("image") or "", "resources": backup.get("resources") or {},
                "securityContext": backup.get("containerSecurityContext") or dict(PSMDB_DEFAULT_CONTAINER_SECURITY),
                "env": [{"name": "PBM_AGENT_MONGODB_USERNAME", "valueFrom": {"secretKeyRef": {
                    "name": f"internal-{name}-users", "key": "MONGODB_BACKUP_USER_ESCAPED", "optional": False}}}]})
        volumes: list[dict[str, Any]] = [
            {"name": f"{name}-mongodb-keyfile", "secret": {"secretName": secrets.get("key") or f"{name}-mongodb-keyfile"}},
            {"name": "ssl", "secret": {"secretName": ssl, "optional": bool((spec.get("unsafeFlags") or {}).get("tls"))}},
            {"name": "ssl-internal", "secret": {"secretName": secrets.get("sslInternal") or f"{name}-ssl-internal", "optional": True}},
            {"name": "users-secret-file", "secret": {"secretName": f"internal-{name}-users"}},
        ]
        configuration = str(rs.get("configuration") or "")
        if "enableEncryption: false" not in configuration and not secrets.get("vault"):
            volumes.append({"name": "encryption-key", "secret": {"secretName": secrets.get("encryptionKey") or f"{name}-mongodb-encryption-key"}})
        pod_spec: dict[str, Any] = {
            "containers": containers,
            "initContainers": [{"name": "mongo-init", "image": init_image, "resources": resources,
                                "securityContext": spec.get("initContainerSecurityContext") or {}}],
            "securityContext": rs.get("podSecurityContext") or dict(PSMDB_DEFAULT_POD_SECURITY),
            "serviceAccountName": rs.get("serviceAccountName") or "default",
            "volumes": volumes,
        }
        for key in ("nodeSelector", "tolerations", "runtimeClassName"):
            if key in rs:
                pod_spec[key] = rs[key]
        labels = {**(rs.get("labels") or {}), "app.kubernetes.io/name": "percona-server-mongodb",
                  "app.kubernetes.io/instance": name, "app.kubernetes.io/replset": str(rs.get("name", "")),
                  "app.kubernetes.io/managed-by": "percona-server-mongodb-operator",
                  "app.kubernetes.io/part-of": "percona-server-mongodb", "app.kubernetes.io/component": "mongod"}
        out.append(PodTemplate(o, {"labels": labels, "annotations": dict(rs.get("annotations") or {})}, pod_spec,
                               built_by=f"Percona operator's StatefulSet {name}-{rs.get('name')}"))
    return out


#: Envoy Gateway v1.9 proxy defaults (api/v1alpha1/shared_types.go): the Envoy image, and the
#: shutdown-manager's requests (DefaultShutdownManager{CPU,Memory}ResourceRequests).
ENVOY_DEFAULT_IMAGE = "docker.io/envoyproxy/envoy:distroless-v1.39.0"
SHUTDOWN_MANAGER_REQUESTS = {"cpu": "10m", "memory": "32Mi"}
#: internal/infrastructure/kubernetes/resource/resource.go DefaultSecurityContext(), with the
#: proxy's uid/gid 65532 and a writable root file system (proxy/resource.go expected*SecurityContext).
ENVOY_DEFAULT_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                          "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                          "seccompProfile": {"type": "RuntimeDefault"}}


def _names_envoy_proxy(o: ClusterObject, proxy: ClusterObject) -> bool:
    """Whether a GatewayClass (`parametersRef`) or Gateway (`infrastructure.parametersRef`) uses ``proxy``."""
    spec = o.obj.get("spec") or {}
    if o.kind == "GatewayClass":
        ref, namespace = spec.get("parametersRef") or {}, None
    elif o.kind == "Gateway":
        ref, namespace = (spec.get("infrastructure") or {}).get("parametersRef") or {}, o.namespace
    else:
        return False
    return (ref.get("kind") == "EnvoyProxy" and ref.get("name") == proxy.name
            and (ref.get("namespace") or namespace) == proxy.namespace)


def _owning_gateway(proxy: ClusterObject, objects: list[ClusterObject]) -> Optional[ClusterObject]:
    """The (first) Gateway whose pods this EnvoyProxy parameterises: directly, or through its GatewayClass."""
    classes = {c.name for c in objects if c.kind == "GatewayClass" and _names_envoy_proxy(c, proxy)}
    for g in objects:
        if g.kind == "Gateway" and (_names_envoy_proxy(g, proxy) or (g.obj.get("spec") or {}).get("gatewayClassName") in classes):
            return g
    return None


def _envoy_proxy(o: ClusterObject, objects: list[ClusterObject]) -> list[PodTemplate]:
    """The proxy Deployment pod Envoy Gateway v1.9 builds for a Gateway of a class whose parameters are
    this EnvoyProxy (internal/infrastructure/kubernetes/proxy/resource.go expectedProxyContainers,
    expectedVolumes): `envoy` with the EnvoyProxy's container image/resources/securityContext, the
    `shutdown-manager` sidecar with the same securityContext (or the default) and fixed requests, the
    pod's securityContext, and the `envoy` xDS certificate Secret (made by the chart's certgen job)."""
    if not any(_names_envoy_proxy(other, o) for other in objects):
        return []  # no GatewayClass or Gateway uses it: Envoy Gateway builds no pods from it
    k8s = ((o.obj.get("spec") or {}).get("provider") or {}).get("kubernetes") or {}
    deployment = k8s.get("envoyDeployment") or {}
    container = deployment.get("container") or {}
    pod = deployment.get("pod") or {}
    security = container.get("securityContext") or dict(ENVOY_DEFAULT_SECURITY)
    shutdown_image = ""
    for other in objects:  # the shutdown manager runs the controller's image (EnvoyGateway config)
        t = workload_template(other)
        if t is not None and other.namespace == o.namespace:
            for _, c in t.containers():
                if c.get("name") == "envoy-gateway":
                    shutdown_image = str(c.get("image", ""))
    spec: dict[str, Any] = {
        "containers": [
            # Its Prometheus stats port (proxy/resource.go expectedProxyContainers: `metrics`, 19001).
            {"name": "envoy", "image": container.get("image") or ENVOY_DEFAULT_IMAGE,
             "resources": container.get("resources") or {}, "securityContext": security,
             "ports": [{"name": "metrics", "containerPort": 19001, "protocol": "TCP"}]},
            {"name": "shutdown-manager", "image": shutdown_image, "resources": {"requests": dict(SHUTDOWN_MANAGER_REQUESTS)},
             "securityContext": security},
        ],
        "securityContext": pod.get("securityContext") or {},
        "volumes": [{"name": "certs", "secret": {"secretName": "envoy"}}] + list(pod.get("volumes") or []),
        "serviceAccountName": "<one per Gateway, made by Envoy Gateway>",
    }
    for key in ("nodeSelector", "tolerations", "affinity"):
        if key in pod:
            spec[key] = pod[key]
    # EnvoyAppLabel plus the owning Gateway's name and namespace (proxy/resource_provider.go envoyLabels).
    owner = _owning_gateway(o, objects)
    metadata = {"labels": {**(pod.get("labels") or {}), "app.kubernetes.io/name": "envoy",
                           "app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway",
                           **({"gateway.envoyproxy.io/owning-gateway-name": owner.name,
                               "gateway.envoyproxy.io/owning-gateway-namespace": owner.namespace} if owner else {})},
                "annotations": dict(pod.get("annotations") or {})}
    return [PodTemplate(o, metadata, spec, built_by="Envoy Gateway's proxy Deployment",
                        operator_creates={"ServiceAccount/" + spec["serviceAccountName"]:
                                          "Envoy Gateway creates one ServiceAccount per Gateway (proxy/resource_provider.go ServiceAccount)"})]


#: TyKO (typesense-operator 0.4.1, api/v1alpha1) defaults: the pod securityContext when the CR sets
#: none (GetPodSecurityContext), and the requests of each container when the CR sets none
#: (GetResources, GetMetricsExporterResources, GetHealthCheckSidecarResources) and sidecar images.
TYKO_POD_SECURITY = {"runAsUser": 10000, "fsGroup": 2000, "runAsGroup": 3000, "runAsNonRoot": True}
TYKO_DEFAULTS = {
    "typesense": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1000m", "memory": "512Mi"}},
    "metrics-exporter": {"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
    "healthcheck": {"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
}
TYKO_IMAGES = {"metrics-exporter": "quay.io/akyriako/typesense-prometheus-exporter:0.1.9",
               "healthcheck": "quay.io/akyriako/typesense-healthcheck:0.2.0"}


def _typesense(o: ClusterObject) -> list[PodTemplate]:
    """The StatefulSet pod TyKO 0.4.1 builds for a TypesenseCluster (internal/controller/
    typesensecluster_statefulset.go buildStatefulSet): `typesense`, `metrics-exporter` and `healthcheck`
    containers with the CR's (or the operator's default) images, resources and security contexts, the
    admin API key Secret (`adminApiKey`, else `<name>-admin-key`, which it creates) and its nodes ConfigMap."""
    spec = o.obj.get("spec") or {}
    sc = spec.get("securityContext") or {}
    parts = {"typesense": (spec.get("image") or "", spec.get("resources"), sc.get("typesense")),
             "metrics-exporter": ((spec.get("metrics") or {}).get("image") or TYKO_IMAGES["metrics-exporter"],
                                  (spec.get("metrics") or {}).get("resources"), sc.get("metrics")),
             "healthcheck": ((spec.get("healthcheck") or {}).get("image") or TYKO_IMAGES["healthcheck"],
                             (spec.get("healthcheck") or {}).get("resources"), sc.get("healthcheck"))}
    key = (spec.get("adminApiKey") or {}).get("name") or f"{o.name}-admin-key"
    containers = [{"name": name, "image": image, "resources": resources or TYKO_DEFAULTS[name],
                   "securityContext": security or {},
                   "env": [{"name": "TYPESENSE_API_KEY", "valueFrom": {"secretKeyRef": {"name": key, "key": "typesense-api-key"}}}]}
                  for name, (image, resources, security) in parts.items()]
    pod_spec: dict[str, Any] = {
        "containers": containers, "securityContext": sc.get("pod") or dict(TYKO_POD_SECURITY),
        "volumes": [{"name": "nodeslist", "configMap": {"name": f"{o.name}-nodeslist"}}],
    }
    for k in ("nodeSelector", "tolerations", "affinity"):
        if k in spec:
            pod_spec[k] = spec[k]
    creates = {f"ConfigMap/{o.name}-nodeslist": "TyKO creates the nodes list (typesensecluster_constants.go ClusterNodesConfigMap)"}
    if not spec.get("adminApiKey"):
        creates[f"Secret/{key}"] = "TyKO creates the admin API key (typesensecluster_secret.go)"
    return [PodTemplate(o, {"labels": {"app": f"{o.name}-sts"}, "annotations": dict(spec.get("podAnnotations") or {})},
                        pod_spec, built_by=f"TyKO's StatefulSet {o.name}-sts", operator_creates=creates)]


def _operator_pods(o: ClusterObject, objects: list[ClusterObject]) -> list[PodTemplate]:
    api = str(o.obj.get("apiVersion", ""))
    if o.kind == "EnvoyProxy" and api.startswith("gateway.envoyproxy.io/"):
        return _envoy_proxy(o, objects)
    if o.kind == "PerconaServerMongoDB" and api.startswith("psmdb.percona.com/"):
        return _psmdb(o, objects)
    if o.kind == "TypesenseCluster" and api.startswith("ts.opentelekomcloud.com/"):
        return _typesense(o)
    if o.kind == "Prometheus" and api.startswith("monitoring.coreos.com/"):
        return [_prometheus_like(o, objects, "prometheus")]
    if o.kind == "Alertmanager" and api.startswith("monitoring.coreos.com/"):
        return [_prometheus_like(o, objects, "alertmanager")]
    return []


#: Custom resource kinds whose pods we build here (the others run no pods of ours).
OPERATOR_KINDS = ("PerconaServerMongoDB", "TypesenseCluster", "Prometheus", "Alertmanager", "EnvoyProxy")


def pod_templates(plan: Plan, *, with_platform: bool = False) -> list[PodTemplate]:
    """Every pod of ``plan`` (memoised): workload templates (objects and hooks) and operator-built pods.
    ``with_platform`` adds the platform's pods to a client plan's."""
    key = "_pod_templates_platform" if with_platform else "_pod_templates"
    cached = plan.__dict__.get(key)
    if cached is not None:
        return cached
    objects = cluster_objects(plan, with_platform=with_platform)
    out: list[PodTemplate] = []
    for o in objects:
        t = workload_template(o)
        if t is not None:
            out.append(t)
        elif o.kind in OPERATOR_KINDS:
            out.extend(_operator_pods(o, objects))
    plan.__dict__[key] = out
    return out


__all__ = ["OPERATOR_KINDS", "POD_SPEC_PATHS", "PodTemplate", "pod_templates", "workload_template"]
