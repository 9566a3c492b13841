"""Image inventory: every container image a stack's cluster will pull, for air-gapped mirroring and scanning.

Three sources, all read from the plan (our objects and every rendered Helm object, hooks included):

1. **Pods**: every container, init container and ephemeral container of every pod template
   (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob).
2. **Images a controller is configured to start**: a container flag whose name ends in `-image`
   (`--engine-image X`, `--acme-http01-solver-image=X`) or an environment variable ending in `_IMAGE`
   with a literal value (Longhorn's `CSI_ATTACHER_IMAGE`). Longhorn's manager and driver deployer start
   its engine, instance-manager and CSI pods from these; cert-manager its ACME solver pods.
3. **Operator custom resources** (`OPERATOR_IMAGES`): what the operator starts for the CR, from the CR
   or the operator's documented default for the pinned version:
   - PerconaServerMongoDB: mongod (`spec.image`), the `mongo-init` init container (`spec.initImage`, else
     the operator's own image repository at `spec.crVersion`), the PBM backup agent (`spec.backup.image`)
     when backups are on, the log collector and PMM client when enabled;
   - Prometheus / Alertmanager (kube-prometheus-stack): the server image (`spec.image`, else the
     operator's default base image at `spec.version`) and the config-reloader (the operator's
     `--prometheus-config-reloader` flag, as the chart sets it), Thanos when `spec.thanos` is set;
   - EnvoyProxy: Envoy (the CR's container image, else envoy-gateway's built-in default for the pinned
     version) and the shutdown manager (the EnvoyGateway config the chart renders);
   - TypesenseCluster (TyKO): Typesense, its healthcheck sidecar and, when configured, the metrics
     exporter, ingress and scrapers (defaults from the TyKO CRD);
   - MinIO Tenant: `spec.image`.

Every image must be pinned (a tag other than `latest`, or a digest): an unpinned one is an error
finding (`image-pinned`) naming the object and where the reference is set. `images.txt` in the plan
output holds the sorted, unique list; `python -m lfh images <stack>` / `--all` print it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional

from .model import Finding, Plan
from .model import dig as get

CHECK = "image-pinned"
SECTION = "images"

#: Where each workload kind keeps its pod spec (the policy pack, which cannot import lfh, keeps a copy:
#: policy/lfh_policies/common.py; tests/test_policy_pack.py keeps them equal).
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")

# Operators' defaults for the pinned versions, each with where it is documented.
#: percona-helm-charts psmdb-db 1.22.2 values.yaml (the defaults Percona documents for operator 1.22).
PSMDB_DEFAULTS = {"logcollector": "percona/fluentbit:4.0.1-2", "pmm": "percona/pmm-client:3.6.0"}
#: psmdb-operator 1.22.0 values.yaml `image`: what the operator runs as when its pod is not in the plan.
PSMDB_OPERATOR_IMAGE = "percona/percona-server-mongodb-operator:1.22.0"
#: envoyproxy/gateway v1.9.0 api/v1alpha1/shared_types.go `DefaultEnvoyProxyImage` / `DefaultShutdownManagerImage`.
#: (The chart's EnvoyGateway config names the shutdown manager's pinned image; were it ever missing, this
#: upstream default — unpinned — would land in images.txt and the `image-pinned` check would fail the plan.)
ENVOY_DEFAULTS = {"envoy": "docker.io/envoyproxy/envoy:distroless-v1.39.0",
                  "shutdownManager": "docker.io/envoyproxy/gateway-dev:latest"}
#: prometheus-operator's default base images (`--prometheus-default-base-image`, …) when no flag sets them.
PROMETHEUS_BASES = {"Prometheus": ("--prometheus-default-base-image", "quay.io/prometheus/prometheus"),
                    "Alertmanager": ("--alertmanager-default-base-image", "quay.io/prometheus/alertmanager")}
#: TyKO 0.4.1 CRD defaults (../shared/upstream/typesense/tyko/crds.yaml).
TYKO_DEFAULTS = {"healthcheck": "quay.io/akyriako/typesense-healthcheck:0.2.0",
                 "metrics": "quay.io/akyriako/typesense-prometheus-exporter:0.1.9",
                 "ingress": "nginx:alpine", "scrapers": "typesense/docsearch-scraper:0.12.0.rc14"}

_IMAGE_FLAG = re.compile(r"^--?[a-z0-9-]*-image$")
_REFERENCE = re.compile(r"^[a-z0-9][a-z0-9._\-/:@]*$", re.I)


@dataclass(frozen=True)
class ImageUse:
    """One place an image is used or started from."""

    image: str
    urn: str
    #: The object and where in it: `Deployment/x (namespace y) from …: container c`.
    where: str


def pod_spec(obj: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The pod spec of a workload object (None for other kinds)."""
    path = POD_SPEC_PATHS.get(str(obj.get("kind", "")))
    spec = get(obj, *path) if path else None
    return spec if isinstance(spec, dict) else None


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`containers`|`initContainers`|`ephemeralContainers`, container) of a pod spec."""
    for field in CONTAINER_FIELDS:
        for c in spec.get(field) or []:
            if isinstance(c, dict):
                yield field, c


def is_pinned(image: str) -> bool:
    """A digest, or a tag that is not `latest` (no tag means `latest`)."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in ("", "latest")


def _looks_like_image(value: Any) -> bool:
    return isinstance(value, str) and bool(_REFERENCE.match(value)) and ("/" in value or ":" in value) \
        and not value.startswith(("http:", "https:"))


def configured_images(container: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(flag or variable, image) a controller container is told to start pods with."""
    tokens = [str(t) for t in (container.get("command") or []) + (container.get("args") or [])]
    for i, token in enumerate(tokens):
        flag, eq, value = token.partition("=")
        if not _IMAGE_FLAG.match(flag):
            continue
        if not eq:
            value = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _looks_like_image(value):
            yield flag, value
    for env in container.get("env") or []:
        name = str((env or {}).get("name", ""))
        if name.endswith("_IMAGE") and _looks_like_image(env.get("value")):
            yield f"env {name}", env["value"]


# ---------------------------------------------------------------- operators


class _Context:
    """What an operator handler may look up: the plan's (and its platform's) objects."""

    def __init__(self, plan: Plan, objects: list[Any]):
        self.plan = plan
        self.objects = objects
        self._platform: Optional[list[Any]] = None

    def everything(self) -> Iterator[Any]:
        yield from self.objects
        if self.plan.platform is not None:
            if self._platform is None:
                from .render import cluster_objects

                self._platform = cluster_objects(self.plan.platform)
            yield from self._platform

    def container_image(self, pattern: str) -> Optional[str]:
        """The image of the first workload container whose image matches ``pattern`` (an operator's own)."""
        rx = re.compile(pattern)
        for o in self.everything():
            spec = pod_spec(o.obj)
            for _, c in containers(spec or {}):
                if rx.search(str(c.get("image", ""))):
                    return str(c["image"])
        return None

    def operator_flag(self, flag: str) -> Optional[str]:
        """The value of ``--flag=value`` on any workload container (an operator's configuration)."""
        for o in self.everything():
            for _, c in containers(pod_spec(o.obj) or {}):
                for token in (c.get("args") or []) + (c.get("command") or []):
                    name, eq, value = str(token).partition("=")
                    if name == flag and eq:
                        return value
        return None

    def envoy_gateway_config(self) -> dict[str, Any]:
        """The EnvoyGateway configuration the envoy-gateway chart renders (ConfigMap envoy-gateway-config)."""
        from .upstream_index import load_yaml_fast

        for o in self.everything():
            if o.kind == "ConfigMap" and o.name == "envoy-gateway-config":
                text = get(o.obj, "data", "envoy-gateway.yaml")
                try:
                    doc = load_yaml_fast(text) if isinstance(text, str) else None
                except Exception:  # noqa: BLE001 - an unreadable config is reported by the images it lacks
                    doc = None
                return doc if isinstance(doc, dict) else {}
        return {}


Started = Iterator[tuple[str, Optional[str]]]  # (what, image or None when the operator's default is unknown)


def _psmdb(spec: dict[str, Any], ctx: _Context) -> Started:
    # pkg/psmdb: mongod runs spec.image; the mongo-init init container runs spec.initImage, else the
    # operator's own image repository at the CR's crVersion (InitContainers, operator v1.22.0).
    yield "mongod (spec.image)", spec.get("image")
    init = spec.get("initImage")
    if not init:
        operator = ctx.container_image(r"percona-server-mongodb-operator") or PSMDB_OPERATOR_IMAGE
        version = spec.get("crVersion")
        init = f"{operator.rsplit(':', 1)[0]}:{version}" if version else operator
    yield "mongo-init (spec.initImage, else the operator's image at spec.crVersion)", init
    backup = spec.get("backup") or {}
    if backup.get("enabled", True):
        yield "backup-agent (spec.backup.image)", backup.get("image")
    for part in ("logcollector", "pmm"):
        cfg = spec.get(part) or {}
        if cfg.get("enabled"):
            yield f"{part} (spec.{part}.image)", cfg.get("image") or PSMDB_DEFAULTS[part]


def _prometheus_like(kind: str) -> Callable[[dict[str, Any], _Context], Started]:
    def started(spec: dict[str, Any], ctx: _Context) -> Started:
        flag, base = PROMETHEUS_BASES[kind]
        image = spec.get("image")
        if not image and spec.get("version"):
            image = f"{ctx.operator_flag(flag) or base}:{spec['version']}"
        yield f"{kind.lower()} (spec.image, else the operator's base image at spec.version)", image
        # The operator adds config-reloader (and init-config-reloader) with the image of its
        # `--prometheus-config-reloader` flag, which kube-prometheus-stack sets.
        yield "config-reloader (operator flag --prometheus-config-reloader)", ctx.operator_flag("--prometheus-config-reloader")
        thanos = spec.get("thanos")
        if kind == "Prometheus" and isinstance(thanos, dict):
            image = thanos.get("image")
            if not image and thanos.get("version"):
                image = f"{(ctx.operator_flag('--thanos-default-base-image') or 'quay.io/thanos/thanos').rsplit(':', 1)[0]}:{thanos['version']}"
            yield "thanos-sidecar (spec.thanos.image)", image or ctx.operator_flag("--thanos-default-base-image")
    return started


def _envoy_proxy(spec: dict[str, Any], ctx: _Context) -> Started:
    container = ("provider", "kubernetes", "envoyDeployment", "container", "image")
    config = ctx.envoy_gateway_config()
    image = get(spec, *container) or get(config, "provider", "kubernetes", "envoyProxy", *container[1:]) \
        or get(config, "envoyProxy", *container) or ENVOY_DEFAULTS["envoy"]
    yield "envoy (the EnvoyProxy's container image, else envoy-gateway's default)", image
    yield ("shutdown-manager (EnvoyGateway config provider.kubernetes.shutdownManager.image)",
           get(config, "provider", "kubernetes", "shutdownManager", "image") or ENVOY_DEFAULTS["shutdownManager"])
    if config.get("rateLimit"):
        yield ("ratelimit (EnvoyGateway config provider.kubernetes.rateLimitDeployment)",
               get(config, "provider", "kubernetes", "rateLimitDeployment", "container", "image"))


def _typesense(spec: dict[str, Any], ctx: _Context) -> Started:
    yield "typesense (spec.image)", spec.get("image")
    yield "healthcheck (spec.healthcheck.image)", get(spec, "healthcheck", "image") or TYKO_DEFAULTS["healthcheck"]
    for part in ("metrics", "ingress"):
        if isinstance(spec.get(part), dict):
            yield f"{part} (spec.{part}.image)", spec[part].get("image") or TYKO_DEFAULTS[part]
    for scraper in spec.get("scrapers") or []:
        yield "scraper (spec.scrapers[].image)", (scraper or {}).get("image") or TYKO_DEFAULTS["scrapers"]


def _tenant(spec: dict[str, Any], ctx: _Context) -> Started:
    yield "minio (spec.image)", spec.get("image")


#: (apiVersion group prefix, kind) -> what the operator starts for such a CR.
OPERATOR_IMAGES: dict[tuple[str, str], Callable[[dict[str, Any], _Context], Started]] = {
    ("psmdb.percona.com/", "PerconaServerMongoDB"): _psmdb,
    ("monitoring.coreos.com/", "Prometheus"): _prometheus_like("Prometheus"),
    ("monitoring.coreos.com/", "Alertmanager"): _prometheus_like("Alertmanager"),
    ("gateway.envoyproxy.io/", "EnvoyProxy"): _envoy_proxy,
    ("ts.opentelekomcloud.com/", "TypesenseCluster"): _typesense,
    ("minio.min.io/", "Tenant"): _tenant,
}


def _handler(obj: dict[str, Any]) -> Optional[Callable[[dict[str, Any], _Context], Started]]:
    api, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    for (group, k), fn in OPERATOR_IMAGES.items():
        if kind == k and api.startswith(group):
            return fn
    return None


# ---------------------------------------------------------------- the inventory


@dataclass
class Inventory:
    uses: list[ImageUse]
    #: (urn, message) of operator images no CR or documented default names.
    unknown: list[tuple[str, str]]

    @property
    def images(self) -> list[str]:
        return sorted({u.image for u in self.uses})


def inventory(plan: Plan) -> Inventory:
    """Every image of ``plan`` (memoised on the plan): pods, configured controllers, operator CRs."""
    cached = plan.__dict__.get("_images")
    if cached is not None:
        return cached
    from .render import cluster_objects

    objects = cluster_objects(plan, phases=("object", "hook"))
    ctx = _Context(plan, objects)
    uses: list[ImageUse] = []
    unknown: list[tuple[str, str]] = []
    for o in objects:
        spec = pod_spec(o.obj)
        for field, c in containers(spec or {}):
            name = c.get("name", "?")
            if c.get("image"):
                uses.append(ImageUse(str(c["image"]), o.urn, f"{o.label()}: {field[:-1]} {name}"))
            for flag, image in configured_images(c):
                uses.append(ImageUse(image, o.urn, f"{o.label()}: {field[:-1]} {name} {flag} (started by it)"))
        handler = _handler(o.obj)
        if handler is None:
            continue
        for what, image in handler(o.obj.get("spec") or {}, ctx):
            if image:
                uses.append(ImageUse(str(image), o.urn, f"{o.label()}: {what}, started by its operator"))
            else:
                unknown.append((o.urn, f"{o.label()}: {what}: no image set and no documented default; "
                                       "set it in the resource so it can be mirrored and scanned"))
    result = Inventory(uses, unknown)
    plan.__dict__["_images"] = result
    return result


def images_txt(plan: Plan) -> str:
    """The content of `images.txt`: one image per line, sorted, unique."""
    return "".join(f"{image}\n" for image in inventory(plan).images)


def findings(plan: Plan) -> list[Finding]:
    """An error for every unpinned image and every operator image nothing names."""
    inv = inventory(plan)
    out = [Finding(CHECK, "error", use.urn,
                   f"{use.where}: image {use.image!r} is not pinned (no tag, or `latest`): it can change under "
                   "the same plan and cannot be mirrored reproducibly; set a version tag or an @sha256 digest")
           for use in inv.uses if not is_pinned(use.image)]
    return out + [Finding(CHECK, "error", urn, message) for urn, message in inv.unknown]


def analyze(plan: Plan) -> None:
    """Error findings for unpinned images; the `images` report section."""
    inv = inventory(plan)
    plan.findings.extend(findings(plan))
    images = inv.images
    operator = {u.image for u in inv.uses if u.where.endswith("by its operator") or u.where.endswith("(started by it)")}
    plan.sections[SECTION] = {
        "title": "images (images.txt):",
        "text": [f"{len(images)} images ({len(operator)} started by controllers and operators)"],
        "data": {"count": len(images), "images": images},
    }


def union(plans: Iterable[Plan]) -> list[str]:
    """The images of several plans, sorted and unique (`python -m lfh images --all`)."""
    return sorted({image for plan in plans for image in inventory(plan).images})


__all__ = ["CHECK", "ImageUse", "Inventory", "analyze", "configured_images", "containers", "findings", "images_txt",
           "inventory", "is_pinned", "pod_spec", "union"]
