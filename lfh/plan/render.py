"""Render every Helm release of a plan offline, as `pulumi up` would install it.

Each `kubernetes:helm.sh/v3:Release` is rendered with Helm's own template engine (PyPI
`helm-python-sdk`: Helm v4's Go SDK in a bundled library, no helm binary, no cluster) using exactly
the values, release name and namespace the stack registers, the cluster's Kubernetes version, and
the API versions the cluster serves at the moment the release installs: the built-in ones plus the
CRDs of the releases it depends on (and, for a client stack, every CRD its platform installed). That
is what `.Capabilities` shows a chart during a real install, so capability-gated templates (a
ServiceMonitor only "if monitoring.coreos.com/v1 exists") render as they really would.

Charts come from `lfh.chart_cache` (the pulled cache, else ../shared/upstream/charts). A chart that is
in neither place, or a render that fails, is an error finding (`helm-render`): never a silent skip.

The result of each render is cached on disk (`build/cache/render/`, keyed by the chart's identity,
values, name, namespace, Kubernetes version and API versions), so a client plan reuses its
platform's render and re-planning an unchanged stack does not re-render. The charts' `crds/` files,
which no value changes, are parsed once per file and kept there too (most of a render's bytes).
Rendered YAML is read with Helm's own reader (sigs.k8s.io/yaml), as Helm reads it to install.

What a render yields, per release:
- ``objects``: what Helm applies as the release (Secret values masked as "[secret]");
- ``hooks``: objects with a `helm.sh/hook` annotation (Jobs and their RBAC that Helm runs around the
  install/upgrade; they run, so pod checks cover them) — `test` hooks are dropped (Pulumi never runs them);
- ``crds``: CustomResourceDefinitions, from the chart's `crds/` folders (installed once, never upgraded
  by Helm) or from its templates.
"""
from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from ..charts import chart_for
from .model import SECRET, Finding, Plan, Resource

CHECK = "helm-render"
#: Bump when what a cache entry holds changes.
FORMAT = 2
#: Helm's document separator (`releaseutil.SplitManifests`: `(?:^|\s*\n)---\s*`, i.e. `---` at a line
#: start, the whitespace around it dropped). Split at line starts, then trimmed the same way: the same
#: documents, without the backtracking that made Helm's pattern cost ~0.6 s per platform render.
_SEPARATOR = re.compile(r"^---", re.MULTILINE)
HOOK_ANNOTATION = "helm.sh/hook"
TEST_HOOKS = {"test", "test-success", "test-failure"}
#: Where a client's platform installed the Gateway API CRDs (standard and experimental kinds).
GATEWAY_API_GROUP_VERSIONS = ("gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1",
                              "gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1alpha3")


class _Named:
    """`kind` and `name` of an object held in ``obj``."""

    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))


@dataclass
class RenderedObject(_Named):
    """One object a release renders, and where it came from."""

    obj: dict[str, Any]
    release: "RenderedRelease" = field(repr=False)
    template: str
    #: "object" (applied as the release), "hook" (run by Helm around install/upgrade), "crd".
    phase: str = "object"
    #: The document as Helm rendered it ("" when it must not be shown as is: a Secret, a List item).
    text: str = field(default="", repr=False)

    @property
    def urn(self) -> str:
        return self.release.urn

    @property
    def namespace(self) -> str:
        """The object's namespace as Helm applies it (the release namespace when the template sets none)."""
        meta = self.obj.get("metadata") or {}
        return str(meta.get("namespace") or ("" if is_cluster_scoped(self.kind) else self.release.namespace))

    @property
    def origin(self) -> str:
        return f"Helm release {self.release.namespace}/{self.release.name}"

    def label(self) -> str:
        ns = self.namespace
        return (f"{self.kind}/{self.name}" + (f" (namespace {ns})" if ns else "")
                + f" from {self.origin} ({self.template})")


@dataclass
class RenderedRelease:
    urn: str
    name: str
    namespace: str
    chart_key: str
    version: str
    origin: str = ""  # "cache" | "upstream" | "" (not rendered)
    objects: list[RenderedObject] = field(default_factory=list)
    hooks: list[RenderedObject] = field(default_factory=list)
    crds: list[RenderedObject] = field(default_factory=list)
    error: Optional[str] = None
    #: What Helm warned while rendering (e.g. a value of the wrong shape that it ignored).
    warnings: list[str] = field(default_factory=list)
    #: The render cache key: the same chart, values, name, namespace and capabilities render the same.
    key: str = ""

    def everything(self) -> list[RenderedObject]:
        return [*self.objects, *self.hooks, *self.crds]

    def api_versions(self) -> list[str]:
        """`group/version` and `group/version/Kind` of every served version of the CRDs this release installs."""
        out: list[str] = []
        for crd in self.crds:
            spec = crd.obj.get("spec") or {}
            group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
            for v in spec.get("versions") or []:
                if group and kind and v.get("served", True):
                    out += [f"{group}/{v.get('name')}", f"{group}/{v.get('name')}/{kind}"]
        return out


#: Kinds Helm applies without a namespace (the ones our charts render).
_CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass",
    "StorageClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "PersistentVolume",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "APIService", "IngressClass",
    "GatewayClass", "ClusterIssuer", "ClusterSecretStore", "ClusterExternalSecret", "CSIDriver",
    "VolumeSnapshotClass", "RuntimeClass", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "ClusterPushSecret", "ClusterGenerator", "BackupTarget",
})


def is_cluster_scoped(kind: str) -> bool:
    return kind in _CLUSTER_SCOPED


# ---------------------------------------------------------------- rendering


def _kube_version(version: str) -> str:
    v = str(version).lstrip("v")
    return f"v{v}.0" if v.count(".") == 1 else f"v{v}"


def split_manifests(text: str) -> list[str]:
    parts = _SEPARATOR.split(text)
    out = [parts[0].rstrip()] + [part.strip() for part in parts[1:]]
    return [part for part in out if part.strip()]


def _mask_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret with its keys kept and every value shown as "[secret]" (plans never hold secrets)."""
    if obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1":
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = {k: SECRET for k in obj[key]}
    return obj


def _cache_dir() -> Path:
    from .cache import root

    return root() / "render"


def _helm_render(chart_dir: Path, values: dict[str, Any], name: str, namespace: str, kube_version: str,
                 api_versions: list[str]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(template path → rendered text, the chart's `crds/` files) from Helm's engine.

    `helm_python.Chart.render` does not expose the Kubernetes version and API versions yet, though
    the library's render options take them (`kube_version`, `api_versions`, as `helm template
    --kube-version/--api-versions`); so the call goes through its native binding directly.
    """
    import helm_python as helm
    from helm_python import _native

    with helm.Chart.load(str(chart_dir)) as chart:
        opts = {"name": name, "namespace": namespace, "is_install": True, "kube_version": kube_version,
                "api_versions": api_versions}
        rendered = json.loads(_native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(opts)))
        return rendered, chart.crds


class _GoStderr:
    """Captures what the Go library prints on file descriptor 2 during a render: Helm's value
    coalescing warns there ("destination for X is a table. Ignoring non-table value") when a value
    we set has the wrong shape, and that is a finding, not noise on the operator's terminal."""

    def __enter__(self) -> "_GoStderr":
        import sys
        import tempfile

        sys.stderr.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        self.lines: list[str] = []
        return self

    def __exit__(self, *exc: Any) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        text = self._file.read().decode("utf-8", "replace")
        self._file.close()
        # Go's log package prefixes a timestamp: "2026/01/02 15:04:05 warning: …"
        self.lines = [re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", line).strip()
                      for line in text.splitlines() if line.strip()]


_RENDER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _release_pool() -> Any:
    """Releases render in their own pool: each render parses its documents in `_parse_pool`."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2), thread_name_prefix="lfh-render")


@lru_cache(maxsize=1)
def _parse_pool() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2), thread_name_prefix="lfh-yaml")


def _parse(text: str, where: str) -> list[tuple[dict[str, Any], str]]:
    """(object, its document text) for each document of a rendered file (see `_parse_many`)."""
    return _parse_many([(where, text)])[0]


def _parse_many(files: list[tuple[str, str]]) -> list[list[tuple[dict[str, Any], str]]]:
    """For each (where, text) file: (object, its document text) for each of its documents, read with Helm's
    own YAML reader (`helm_python.values_from_yaml`: sigs.k8s.io/yaml, as Helm reads manifests to install
    them; ~2× faster than PyYAML with libyaml, identical objects on every example release). A `List`
    yields its items (their text is not kept: they are shown from the object). The Go reader releases the
    GIL, so the documents of all the files parse on every core at once."""
    import helm_python as helm

    parts = [(i, where, part) for i, (where, text) in enumerate(files) for part in split_manifests(text)]

    def read(item: tuple[int, str, str]) -> Any:
        try:
            return helm.values_from_yaml(item[2])
        except helm.HelmError as exc:
            return RenderFailure(f"{item[1]}: rendered YAML does not parse: {exc}")

    docs = list(_parse_pool().map(read, parts)) if len(parts) > 1 else [read(p) for p in parts]
    out: list[list[tuple[dict[str, Any], str]]] = [[] for _ in files]
    for (i, _, part), doc in zip(parts, docs, strict=True):
        if isinstance(doc, RenderFailure):
            raise doc
        if not isinstance(doc, dict) or not doc:
            continue  # a document of comments only
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out[i].extend((item, "") for item in doc["items"] if isinstance(item, dict))
        else:
            out[i].append((doc, part))
    return out


class RenderFailure(Exception):
    pass


def render_release(urn: str, rel: dict[str, Any], kube_version: str, api_versions: list[str]) -> RenderedRelease:
    """Render one release (see the module docstring). Never raises: failures land in ``error``."""
    from ..chart_cache import locate, where_to_get

    pinned = chart_for(rel["chart"], rel["repository"])
    out = RenderedRelease(urn, str(rel["name"]), str(rel["namespace"]), pinned.key if pinned else rel["chart"],
                          str(rel.get("version") or ""))
    if pinned is None:
        out.error = f"chart {rel['chart']!r} from {rel['repository']!r} is not pinned in lfh/charts.py: not rendered"
        return out
    source = locate(pinned, out.version or pinned.version)
    if source is None:
        out.error = (f"chart {pinned.chart} {out.version} is neither in the chart cache nor in "
                     f"../shared/upstream/charts: NOT rendered; {where_to_get(pinned, out.version)}")
        return out
    out.origin = source.origin
    values = rel.get("values") if isinstance(rel.get("values"), dict) else {}
    kv = _kube_version(kube_version)
    key = hashlib.sha256(json.dumps(
        [FORMAT, source.identity, values, out.name, out.namespace, kv, sorted(api_versions)],
        sort_keys=True, default=str).encode()).hexdigest()[:40]
    cached = _cache_dir() / f"{key}.json"
    data = None
    try:
        data = json.loads(cached.read_text())
    except (OSError, ValueError):
        pass
    # The chart's crds/ documents are kept once per file content (`_chart_crds`); the entry names them.
    crd_docs = [(where, _load_chart_crds(crd_key)) for where, crd_key in data.get("crdFiles", [])] \
        if isinstance(data, dict) else []
    if not isinstance(data, dict) or any(docs is None for _, docs in crd_docs):
        data = _render_to_data(source.path, values, out.name, out.namespace, kv, api_versions)
        _store(cached, data)
        crd_docs = [(where, _load_chart_crds(crd_key)) for where, crd_key in data.get("crdFiles", [])]
    out.key = key
    if data.get("error"):
        out.error = data["error"]
        return out
    out.warnings = list(data.get("warnings") or [])
    for where, docs in crd_docs:
        out.crds += [RenderedObject(obj, out, where, "crd", text) for obj, text in docs or []]
    for template, obj, phase, text in data["objects"]:
        ro = RenderedObject(obj, out, template, phase, text)
        {"object": out.objects, "hook": out.hooks, "crd": out.crds}[phase].append(ro)
    return out


def _render_to_data(chart_dir: Path, values: dict[str, Any], name: str, namespace: str, kube_version: str,
                    api_versions: list[str]) -> dict[str, Any]:
    import helm_python as helm

    try:
        # One render at a time: capturing the Go library's stderr swaps the process's file descriptor 2.
        with _RENDER_LOCK, _GoStderr() as stderr:
            try:
                rendered, crd_files = _helm_render(chart_dir, values, name, namespace, kube_version, api_versions)
            except helm.HelmError as exc:
                raise RenderFailure(f"Helm could not render the chart: {exc}") from None
        objects: list[tuple[str, dict[str, Any], str, str]] = []
        wheres = [crd_file.get("filename") or crd_file.get("name", "crds/") for crd_file in crd_files]
        keys = _chart_crds([(w, crd_file.get("data", "")) for w, crd_file in zip(wheres, crd_files, strict=True)])
        crds = [[w, k] for w, k in zip(wheres, keys, strict=True)]
        templates = [t for t in sorted(rendered) if not t.endswith("NOTES.txt")]
        for template, docs in zip(templates, _parse_many([(t, rendered[t]) for t in templates]), strict=True):
            for doc, text in docs:
                hooks = {h.strip() for h in str(((doc.get("metadata") or {}).get("annotations") or {})
                                                 .get(HOOK_ANNOTATION, "")).split(",") if h.strip()}
                if hooks & TEST_HOOKS:
                    continue  # `helm test` pods: Pulumi never runs them
                phase = "crd" if doc.get("kind") == "CustomResourceDefinition" else ("hook" if hooks else "object")
                if doc.get("kind") == "Secret":
                    doc, text = _mask_secret(doc), ""  # never written as rendered: its values are masked
                objects.append((template, doc, phase, text))
        return {"crdFiles": crds, "objects": objects, "warnings": stderr.lines}
    except RenderFailure as exc:
        return {"error": str(exc)}


#: In-process memo of the charts' parsed crds/ files (a plan of every stack renders each chart several times).
_CRD_MEMO: dict[str, list[tuple[dict[str, Any], str]]] = {}


def _chart_crds(files: list[tuple[str, str]]) -> list[str]:
    """Parse the (where, text) files of a chart's `crds/` folder, keep them, and return their keys (their
    contents' hashes). CRD files do not depend on values, so each is parsed once (in this process, and on
    disk next to the renders, which name it): a changed value, or the same chart on another platform,
    does not parse it again. The objects are shared by every render that names the file: read them,
    never change them."""
    keys = ["crds-" + hashlib.sha256(f"{FORMAT}|{where}|".encode() + text.encode()).hexdigest()[:40]
            for where, text in files]
    todo = [(key, f) for key, f in zip(keys, files, strict=True) if _load_chart_crds(key) is None]
    for (key, _), docs in zip(todo, _parse_many([f for _, f in todo]), strict=True):
        path = _cache_dir() / f"{key}.json"
        _store(path, docs)
        _CRD_MEMO[str(path)] = docs
    return keys


def _load_chart_crds(key: str) -> Optional[list[tuple[dict[str, Any], str]]]:
    path = _cache_dir() / f"{key}.json"
    if str(path) not in _CRD_MEMO:
        try:
            _CRD_MEMO[str(path)] = [tuple(d) for d in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return None
    return _CRD_MEMO[str(path)]


def _store(path: Path, data: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":"), default=str))
        os.replace(tmp, path)
    except OSError:
        pass


# ---------------------------------------------------------------- a plan's renders


def _release_dependencies(plan: Plan) -> dict[str, set[str]]:
    """For each release URN, the release URNs it (transitively) depends on, through `dependsOn` and
    parent/child edges (a dependency on a component is a dependency on everything it contains)."""
    by_urn = plan.by_urn()
    children: dict[str, list[str]] = {}
    for r in plan.resources:
        children.setdefault(r.parent, []).append(r.urn)

    def expand(urn: str, seen: set[str]) -> None:
        if urn in seen:
            return
        seen.add(urn)
        res = by_urn.get(urn)
        if res is None:
            return
        for dep in res.dependencies:
            expand(dep, seen)
        for child in children.get(urn, []):
            expand(child, seen)

    releases = [r for r, _ in plan.helm_releases()]
    release_urns = {r.urn for r in releases}
    out: dict[str, set[str]] = {}
    for r in releases:
        seen: set[str] = set()
        for dep in r.dependencies:
            expand(dep, seen)
        out[r.urn] = (seen & release_urns) - {r.urn}
    return out


def rendered(plan: Plan) -> list[RenderedRelease]:
    """Every Helm release of ``plan``, rendered (memoised on the plan)."""
    cached = plan.__dict__.get("_rendered")
    if cached is not None:
        return cached
    base: list[str] = list(GATEWAY_API_GROUP_VERSIONS)
    if plan.platform is not None:  # a client installs onto a platform that is already up
        for rel in rendered(plan.platform):
            base += rel.api_versions()
    releases = plan.helm_releases()
    deps = _release_dependencies(plan)
    done: dict[str, RenderedRelease] = {}
    pending = list(releases)

    def render(item: tuple[Resource, dict[str, Any]]) -> RenderedRelease:
        res, rel = item
        api = list(base)
        for dep in sorted(deps.get(res.urn, ())):
            if dep in done:
                api += done[dep].api_versions()
        return render_release(res.urn, rel, plan.kubernetes_version, sorted(set(api)))

    while pending:  # dependency order: a release sees the CRDs of what it waits for
        ready = [(r, h) for r, h in pending if deps.get(r.urn, set()) <= set(done)]
        if not ready:  # a cycle cannot come from Pulumi's graph; render the rest as they are
            ready = pending[:1]
        # The releases of one wave wait for nothing among themselves: they render side by side (Helm's
        # engine runs in Go and releases the GIL).
        results = list(_release_pool().map(render, ready)) if len(ready) > 1 else [render(ready[0])]
        for (res, _), out in zip(ready, results, strict=True):
            done[res.urn] = out
        pending = [item for item in pending if item[0].urn not in done]
    result = [done[r.urn] for r, _ in releases]
    plan.__dict__["_rendered"] = result
    return result


def rendered_objects(plan: Plan, *, phases: tuple[str, ...] = ("object", "hook")) -> Iterator[RenderedObject]:
    for rel in rendered(plan):
        for ro in rel.everything():
            if ro.phase in phases:
                yield ro


# ---------------------------------------------------------------- everything the cluster runs


@dataclass
class ClusterObject(_Named):
    """An object the cluster will hold: one of ours (a Pulumi resource) or one a Helm release renders."""

    obj: dict[str, Any]
    urn: str
    #: "ours" or "Helm release <ns>/<name>"
    origin: str
    phase: str = "object"  # "object" | "hook" | "crd" | "patch"
    template: str = ""

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def rendered(self) -> bool:
        return self.origin != "ours"

    def label(self) -> str:
        ns = self.namespace
        where = f" from {self.origin} ({self.template})" if self.rendered else ""
        return f"{self.kind}/{self.name}" + (f" (namespace {ns})" if ns else "") + where


def cluster_objects(plan: Plan, *, phases: tuple[str, ...] = ("object", "hook"),
                    with_platform: bool = False) -> list[ClusterObject]:
    """Every object of ``plan`` the cluster will hold: ours (full objects, not server-side patches)
    and every rendered one (namespaces filled in as Helm applies them). ``with_platform`` adds the
    platform's objects to a client plan's (a client lands on a cluster that already holds them)."""
    out: list[ClusterObject] = []
    plans = [plan] + ([plan.platform] if with_platform and plan.platform is not None else [])
    for p in plans:
        for res, obj in p.manifests():
            phase = "patch" if res.type.endswith("Patch") else ("crd" if obj.get("kind") == "CustomResourceDefinition" else "object")
            if phase in phases:
                out.append(ClusterObject(obj, res.urn, "ours", phase))
        for ro in rendered_objects(p, phases=phases):
            obj = ro.obj
            if not (obj.get("metadata") or {}).get("namespace") and ro.namespace:
                obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": ro.namespace}}
            out.append(ClusterObject(obj, ro.urn, ro.origin, ro.phase, ro.template))
    return out


# ---------------------------------------------------------------- analyzer


def analyze(plan: Plan) -> None:
    """Render every release; a release that does not render is an error finding."""
    releases = rendered(plan)
    counts = {"releases": len(releases), "objects": 0, "hooks": 0, "crds": 0, "failed": 0, "bySource": {}}
    for rel in releases:
        if rel.error:
            counts["failed"] += 1
            plan.findings.append(Finding(CHECK, "error", rel.urn,
                                         f"Helm release {rel.namespace}/{rel.name} ({rel.chart_key} {rel.version}): {rel.error}"))
            continue
        for warning in rel.warnings:
            plan.findings.append(Finding(CHECK, "warning", rel.urn,
                                         f"Helm release {rel.namespace}/{rel.name}: Helm warned while rendering: {warning}"))
        counts["objects"] += len(rel.objects)
        counts["hooks"] += len(rel.hooks)
        counts["crds"] += len(rel.crds)
        counts["bySource"][rel.origin] = counts["bySource"].get(rel.origin, 0) + 1
    if not releases:
        return
    text = [f"{counts['objects']} objects, {counts['hooks']} hooks, {counts['crds']} CRDs from "
            f"{counts['releases'] - counts['failed']}/{counts['releases']} releases"
            + (f" ({', '.join(f'{n} from {src}' for src, n in sorted(counts['bySource'].items()))})" if counts["bySource"] else "")]
    for rel in releases:
        if not rel.error:
            text.append(f"{rel.namespace}/{rel.name} ({rel.chart_key} {rel.version}, {rel.origin}): "
                        f"{len(rel.objects)} objects, {len(rel.hooks)} hooks, {len(rel.crds)} CRDs")
        else:
            text.append(f"{rel.namespace}/{rel.name} ({rel.chart_key} {rel.version}): NOT RENDERED")
    plan.sections["rendered"] = {"title": "rendered Helm releases:", "text": text, "data": counts}


__all__ = ["ClusterObject", "RenderedObject", "RenderedRelease", "analyze", "cluster_objects",
           "render_release", "rendered", "rendered_objects", "split_manifests"]
