"""Conformance checks inside `plan`: the recorded graph against upstream truth.

Each check returns Findings (`check` names in brackets); ``analyze`` runs them all over a Plan.

- [k8s-schema] every built-in Kubernetes object validates against the strict OpenAPI schema of the
  cluster's Kubernetes version (kubernetes-validate's schemas; nearest supported version).
- [crd-schema] every custom resource validates against the `openAPIV3Schema` of its CRD version in
  the upstream CRD files `charts.yaml` lists (Gateway API kinds: the standard-channel bundle only), else
  in the CRDs the rendered charts install, else in the explicitly sourced schemas of extra_crds.py.
- [helm-values] every Helm release uses a pinned chart/repository/version, sets only keys that exist
  in the chart's upstream `values.yaml` and satisfies its `values.schema.json`.
- [explicit-provider] every `kubernetes:*` resource names its provider.
- [upstream-missing] the upstream folder is absent: the checks that need it say so (warning), once
  per plan each — never a silent pass.
"""
from __future__ import annotations

import difflib
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Optional

from ..charts import CHARTS, chart_for
from ..upstream import upstream_dir
from .extra_crds import extra_crd
from .model import SECRET, Finding, Plan

#: Value keys a chart reads although its `values.yaml` only documents them in comments (or not at
#: all): {chart key: {"dotted.path": "why it is valid"}}. Everything below an entry is accepted.
#: Add an entry only after reading the chart's templates, and say where the template reads it.
EXTRA_VALUE_KEYS: dict[str, dict[str, str]] = {
    # argo-cd 10.1.1 templates/_helpers.tpl `argo-cd.config.cm`: every key of configs.cm (but `create`,
    # `annotations`) becomes a key of argocd-cm; values.yaml shows `oidc.config` commented out.
    "argo-cd": {"configs.cm.oidc.config": "rendered into argocd-cm as the Argo CD setting `oidc.config`"},
    # Subchart values: kube-prometheus-stack 88.5.3 passes `kube-state-metrics:` to its kube-state-metrics
    # subchart, whose own values.yaml (charts/kube-state-metrics/values.yaml) documents these keys
    # (metricAnnotationsAllowList, customResourceState.enabled/config, rbac.extraRules).
    "kube-prometheus-stack": {
        f"kube-state-metrics.{key}": f"kube-state-metrics subchart values.yaml key `{key}`"
        for key in ("metricAnnotationsAllowList", "customResourceState", "rbac")
    },
    # Verified in the published minio-5.4.0.tgz (minio/minio helm-releases/, commit 43a740296).
    "minio": {
        "containerSecurityContext": "statefulset.yaml/deployment.yaml render the whole map with toYaml as the "
                                    "container securityContext; values.yaml lists only readOnlyRootFilesystem",
        "securityContext": "statefulset.yaml/deployment.yaml render `omit .Values.securityContext \"enabled\" | toYaml` "
                           "as the pod securityContext: any PodSecurityContext field",
        "resources": "statefulset.yaml/deployment.yaml render `toYaml .Values.resources` as the container's "
                     "resources; values.yaml only sets requests.memory",
        **{f"{job}.resources": f"post-job.yaml renders `toYaml .Values.{job}.resources` as the container's resources"
           for job in ("makeBucketJob", "makePolicyJob", "makeUserJob", "makeServiceAccountJob", "customCommandJob")},
        "postJob.securityContext": "post-job.yaml renders `omit .Values.postJob.securityContext \"enabled\" | toYaml` "
                                   "as the post-job pod securityContext",
        **{f"{job}.containerSecurityContext": f"post-job.yaml renders `with .Values.{job}.containerSecurityContext` "
                                              f"(toYaml) as that container's securityContext when "
                                              f"{job}.securityContext.enabled; values.yaml does not mention it "
                                              f"(and {job}.securityContext only supplies `enabled`)"
           for job in ("makeBucketJob", "makePolicyJob", "makeUserJob", "makeServiceAccountJob", "customCommandJob")},
    },
}

#: Standard-channel Gateway API kinds that gateway-api/crds.yaml leaves out (its SOURCE.md: "At v1.6.1
#: the standard channel also has ListenerSet …"). They are checked against the CRD the envoy-gateway
#: chart installs: at v1.6.1 config/crd/standard/ and config/crd/experimental/
#: gateway.networking.k8s.io_listenersets.yaml differ only in the `channel` annotation (same schema).
STANDARD_NOT_IN_BUNDLE = frozenset({("gateway.networking.k8s.io", "ListenerSet")})

#: At most this many schema findings per object / release (the first ones are the useful ones).
MAX_FINDINGS_PER_OBJECT = 10


def check_explicit_provider(plan: Plan) -> list[Finding]:
    """Every `kubernetes:*` resource names an explicit provider (never the ambient kubeconfig)."""
    findings = []
    for r in plan.resources:
        if r.is_kubernetes and r.custom and not r.provider:
            findings.append(Finding(
                "explicit-provider", "error", r.urn,
                f"{r.type} {r.name!r} has no explicit provider: it would use the ambient kubeconfig",
            ))
    return findings


# ---------------------------------------------------------------- helpers


def stack_urn(plan: Plan) -> str:
    return f"urn:pulumi:{plan.stack}::lfh::pulumi:pulumi:Stack::lfh-{plan.stack}"


def _object_name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name", "<unnamed>")
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{name}" + (f" (namespace {ns})" if ns else "")


def upstream_missing(plan: Plan, check: str, what: str) -> Finding:
    env = "LFH_UPSTREAM_DIR"
    message = (f"SKIPPED {check}: the upstream folder (charts.yaml, CRDs, values) was not found "
               f"(set {env} or provide ../shared/upstream) — {what} were NOT checked")
    print(f"warning: {plan.stack}: {message}", file=sys.stderr)
    return Finding("upstream-missing", "warning", stack_urn(plan), message)


# ---------------------------------------------------------------- k8s-schema


def check_k8s_schema(plan: Plan) -> list[Finding]:
    """Built-in objects against the strict Kubernetes OpenAPI schema (unknown fields are errors)."""
    from .upstream_index import is_builtin, nearest_k8s_version

    objects = [o for o in _checked_objects(plan) if is_builtin(o.obj.get("apiVersion", ""))]
    if not objects:
        return []
    try:
        version = nearest_k8s_version(plan.kubernetes_version)
    except (RuntimeError, OSError) as exc:  # the pinned kubernetes-validate is missing or broken
        print(f"warning: {plan.stack}: SKIPPED k8s-schema: {exc}", file=sys.stderr)
        return [Finding("k8s-schema", "warning", stack_urn(plan),
                        f"SKIPPED k8s-schema: {exc} — built-in objects were NOT checked")]
    findings: list[Finding] = []
    if version != str(plan.kubernetes_version):
        findings.append(Finding(
            "k8s-schema", "info", stack_urn(plan),
            f"Kubernetes {plan.kubernetes_version} has no bundled schema; checked against {version}, the nearest "
            "version kubernetes-validate supports",
        ))
    # A release's objects are what its render-cache key says (chart, values, name, namespace,
    # capabilities): their findings are kept next to the render and not computed again.
    keys = {rel.urn: rel.key for rel in _rendered(plan) if rel.key}
    groups: dict[str, list[Any]] = {}
    for o in objects:
        groups.setdefault(o.urn if o.rendered and o.urn in keys else "", []).append(o)
    for urn, group in groups.items():
        path = _k8s_schema_cache(keys[urn], version) if urn else None
        cached = _read_cached(path)
        if cached is not None:
            findings += [Finding("k8s-schema", "error", urn, message) for message in cached]
            continue
        found = _k8s_schema_findings(group, version)
        findings += found
        if path is not None:
            _write_cached(path, [f.message for f in found])
    return findings


def _k8s_schema_findings(objects: list[Any], version: str) -> list[Finding]:
    from .upstream_index import k8s_validator

    findings: list[Finding] = []
    for o in objects:
        obj = o.obj
        api, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        # Patch resources (server-side apply) carry a partial object: required fields may be absent.
        validator = k8s_validator(version, api, kind, o.phase == "patch")
        if validator is None:
            findings.append(Finding(
                "k8s-schema", "error", o.urn,
                f"{o.label()}: Kubernetes {version} has no {kind} in {api} (removed, not yet served, or misspelled)",
            ))
            continue
        for err in validator.errors(obj)[:MAX_FINDINGS_PER_OBJECT]:
            findings.append(Finding(
                "k8s-schema", "error", o.urn,
                f"{o.label()}: {err.where}: {err.message} (Kubernetes {version} OpenAPI schema, strict)",
            ))
    return findings


def _rendered(plan: Plan) -> list[Any]:
    from .render import rendered

    return rendered(plan)


@lru_cache(maxsize=1)
def _validator_stamp() -> str:
    """What else decides a validation's outcome: the schemas' package and the validator's code."""
    import hashlib
    from importlib.metadata import version

    h = hashlib.sha256(version("kubernetes-validate").encode())
    for name in ("schemas.py", "upstream_index.py", "conformance.py"):
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


def _k8s_schema_cache(render_key: str, version: str) -> Path:
    from .upstream_index import cache_dir

    return cache_dir() / "k8s-schema" / f"{render_key}-{version}-{_validator_stamp()}.json"


def _read_cached(path: Optional[Path]) -> Optional[list[str]]:
    from .upstream_index import _read_json

    data = _read_json(path) if path is not None else None
    return data if isinstance(data, list) else None


def _write_cached(path: Path, messages: list[str]) -> None:
    from .upstream_index import _write_json

    _write_json(path, messages)


def _checked_objects(plan: Plan):
    """Ours and every rendered object (hooks and CRDs included: the API server admits them all)."""
    from .render import cluster_objects

    return cluster_objects(plan, phases=("object", "hook", "crd", "patch"))


# ---------------------------------------------------------------- crd-schema


@lru_cache(maxsize=4)
def _crd_index(root: str, cache: str):
    from .upstream_index import CrdIndex

    return CrdIndex.from_charts_yaml(Path(root))


def check_crd_schema(plan: Plan, root: Optional[Path] = None) -> list[Finding]:
    """Custom resources against their CRD's openAPIV3Schema (strict: pruned fields are errors)."""
    from .upstream_index import GATEWAY_API_GROUPS, cache_dir, is_builtin, split_api_version  # noqa: F401

    objects = [o for o in _checked_objects(plan) if not is_builtin(o.obj.get("apiVersion", ""))]
    root = root or upstream_dir()
    if root is None:
        return [upstream_missing(plan, "crd-schema", "custom resources")]
    if not objects:
        return []
    index = _crd_index(str(root), str(cache_dir()))
    chart_crds = _rendered_crds(plan)
    findings: list[Finding] = []
    try:
        for o in objects:
            res, obj = o, o.obj
            api, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
            group, ver = split_api_version(api)
            crd = _find_crd(index, chart_crds, group, kind)
            if crd is None:
                # A kind the cluster brings (snapshot CRDs): the schema written from its named upstream type.
                crd = extra_crd(group, kind)
            if crd is None:
                where = ("the standard-channel Gateway API bundle (gateway-api/crds.yaml)" if group in GATEWAY_API_GROUPS
                         else "the CRD files charts.yaml lists")
                near = [k for k in index.kinds_near(group, kind) if k != kind]
                findings.append(Finding("crd-schema", "error", res.urn,
                                        f"{o.label()}: no upstream CRD for {kind} in {group or 'core'} in {where}"
                                        + (f" (did you mean {near[0]}?)" if near else "")))
                continue
            cv = crd.versions.get(ver)
            if cv is None or not cv.served:
                served = sorted(n for n, v in crd.versions.items() if v.served)
                why = "is not served" if cv is not None else "does not exist"
                findings.append(Finding("crd-schema", "error", res.urn,
                                        f"{o.label()}: {api} {why} in CRD {crd.source} (served: {', '.join(served)})"))
                continue
            if cv.deprecated:
                findings.append(Finding("crd-schema", "warning", res.urn,
                                        f"{o.label()}: {api} is deprecated in CRD {crd.source}"
                                        + (f": {cv.deprecation_warning}" if cv.deprecation_warning else "")))
            if cv.schema is None:
                findings.append(Finding("crd-schema", "warning", res.urn,
                                        f"{o.label()}: CRD {crd.source} has no schema for {api}; not validated"))
                continue
            # Patch resources (server-side apply) carry a partial object: required fields may be absent.
            for err in cv.validator(o.phase == "patch").errors(obj)[:MAX_FINDINGS_PER_OBJECT]:
                findings.append(Finding("crd-schema", "error", res.urn,
                                        f"{o.label()}: {err.where}: {err.message} (CRD {crd.source}, {api})"))
    finally:
        index.save()
    for rel in sorted(index.missing_files):
        print(f"warning: {plan.stack}: upstream CRD file {rel} (listed in charts.yaml) is missing", file=sys.stderr)
        findings.append(Finding("upstream-missing", "warning", stack_urn(plan),
                                f"upstream CRD file {root / rel} (listed in charts.yaml) is missing: its kinds were NOT checked"))
    return findings


def _find_crd(index: Any, chart_crds: Any, group: str, kind: str) -> Any:
    """The CRD a release of this plan (or its platform) installs is what the API server will validate
    against (and is already parsed); else the upstream CRD files. Gateway API kinds: always the
    standard-channel bundle, except standard kinds the bundle file leaves out (STANDARD_NOT_IN_BUNDLE)."""
    from .upstream_index import GATEWAY_API_GROUPS

    if group not in GATEWAY_API_GROUPS or (group, kind) in STANDARD_NOT_IN_BUNDLE:
        crd = chart_crds.get((group, kind))
        if crd is not None:
            return crd
        # Kinds no upstream file has (extra_crds.py, explicitly sourced): looked up before the upstream
        # files, whose search for a kind they lack parses every document (seconds on a cold cache).
        crd = extra_crd(group, kind)
        if crd is not None:
            return crd
    return index.find(group, kind)


def crd_schema(plan: Plan, api_version: str, kind: str) -> Optional[dict[str, Any]]:
    """The openAPIV3Schema a custom resource is validated against (as ``check_crd_schema`` finds it),
    or None when neither the upstream CRD files nor the plan's charts have it."""
    from .upstream_index import cache_dir, split_api_version

    root = upstream_dir()
    if root is None:
        return None
    group, ver = split_api_version(api_version)
    crd = _find_crd(_crd_index(str(root), str(cache_dir())), _rendered_crds(plan), group, kind)
    cv = crd.versions.get(ver) if crd is not None else None
    return cv.schema if cv is not None else None


class _RenderedCrds:
    """(group, kind) → Crd of every CRD the plan's releases (and its platform's) install; each CRD's
    schemas are compacted only when a custom resource of its kind is checked."""

    def __init__(self, plan: Plan):
        from .render import rendered

        self._found: dict[tuple[str, str], tuple[Any, Any]] = {}
        for p in [plan] + ([plan.platform] if plan.platform is not None else []):
            for rel in rendered(p):
                for ro in rel.crds:
                    spec = ro.obj.get("spec") or {}
                    self._found.setdefault((spec.get("group", ""), (spec.get("names") or {}).get("kind", "")), (rel, ro))
        self._crds: dict[tuple[str, str], Any] = {}

    def get(self, key: tuple[str, str]) -> Any:
        if key not in self._crds:
            self._crds[key] = self._build(*self._found[key]) if key in self._found else None
        return self._crds[key]

    @staticmethod
    def _build(rel: Any, ro: Any) -> Any:
        from .upstream_index import Crd, CrdVersion, _crd_record

        rec = _crd_record(ro.obj)
        if rec is None:
            return None
        crd = Crd(rec["group"], rec["kind"], rec.get("scope", ""), f"{rel.chart_key} {rel.version} {ro.template}")
        for name, v in rec["versions"].items():
            crd.versions[name] = CrdVersion(name, v["served"], v["deprecated"], v["deprecationWarning"], None, v.get("schema"))
        return crd


def _rendered_crds(plan: Plan) -> _RenderedCrds:
    """The plan's rendered CRDs (memoised on the plan)."""
    cached = plan.__dict__.get("_rendered_crds")
    if cached is None:
        cached = plan.__dict__["_rendered_crds"] = _RenderedCrds(plan)
    return cached


# ---------------------------------------------------------------- helm-values


def chart_overrides(plan: Plan) -> dict[str, str]:
    """`chartVersions` of the stack's `lfh:platform` / `lfh:client` section (recorded with the plan, so a
    cached plan need not read its whole config again)."""
    if plan.chart_versions is not None:
        return dict(plan.chart_versions)
    cfg = plan.config
    section = getattr(cfg, "platform", None) or getattr(cfg, "client", None)
    return dict(getattr(section, "chart_versions", None) or {})


def _norm_repo(repo: str) -> str:
    return str(repo).rstrip("/")


def unknown_value_keys(values: Any, upstream: Any, allowed: dict[str, str] | None = None,
                       path: tuple[str, ...] = (), schema: Any = None) -> Iterator[tuple[str, str, str]]:
    """(dotted path, nearest existing parent, hint) for every key we set that the chart doesn't have.

    Open (any key accepted): below a map the chart leaves empty (`podAnnotations: {}`), below an
    upstream `null`, inside lists (items are free-form), below an ``allowed`` path, and below a key
    the chart's values.schema.json (``schema``) declares — that schema then judges the subtree.
    """
    allowed = allowed or {}
    if not isinstance(values, dict):
        return
    for key, value in values.items():
        sub = path + (str(key),)
        dotted = ".".join(sub)
        parent = ".".join(path) or "(top level)"
        if dotted in allowed:
            continue
        if schema is not None and (not isinstance(upstream, dict) or key not in upstream) \
                and schema_declares(schema, sub):
            continue
        if not isinstance(upstream, dict):
            yield dotted, parent, f"upstream {parent} is a {type(upstream).__name__}, not a map"
            continue
        if key not in upstream:
            close = difflib.get_close_matches(str(key), [str(k) for k in upstream], n=1, cutoff=0.75)
            yield dotted, parent, (f"did you mean {'.'.join(path + (close[0],))!r}?" if close else "")
            continue
        up = upstream[key]
        if up is None or isinstance(up, list) or (isinstance(up, dict) and (not up or _is_label_map(up))):
            continue
        if isinstance(value, dict) and value:
            yield from unknown_value_keys(value, up, allowed, sub, schema)


def _is_label_map(value: dict) -> bool:
    """A map keyed by Kubernetes label/annotation keys (`kubernetes.io/os`, `prometheus.io/scrape`):
    a nodeSelector/labels/annotations map with defaults filled in — free-form like an empty one.
    Chart value keys proper never contain `/`."""
    return all("/" in str(k) for k in value)


def schema_declares(schema: Any, path: tuple[str, ...]) -> bool:
    """Whether a values.schema.json names ``path`` under `properties` (following local `$ref`s)."""
    node = _deref(schema, schema)
    for key in path:
        if not isinstance(node, dict):
            return False
        props = node.get("properties")
        additional = node.get("additionalProperties")
        if (not isinstance(props, dict) or key not in props) and (
                isinstance(additional, dict) or additional is True
                or (additional is None and not props and node.get("type") == "object"
                    and not any(k in node for k in ("allOf", "anyOf", "oneOf")))):
            return True  # the schema leaves this map open (e.g. nodeSelector: {type: object})
        if not isinstance(props, dict) or key not in props:
            # look through allOf/anyOf/oneOf branches too
            for comb in ("allOf", "anyOf", "oneOf"):
                for branch in node.get(comb) or []:
                    b = _deref(schema, branch)
                    if isinstance(b, dict) and isinstance(b.get("properties"), dict) and key in b["properties"]:
                        props = b["properties"]
                        break
                else:
                    continue
                break
            else:
                return False
        node = _deref(schema, props[key])
    return True


def _deref(root: Any, node: Any, depth: int = 0) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and depth < 32:
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
        node, depth = target, depth + 1
    return node


def with_subchart_values(pinned: Any, upstream: Any) -> Any:
    """The chart's values with each dependency's own `values.yaml` under its name (or alias), as Helm
    coalesces them (https://helm.sh/docs/chart_template_guide/subcharts_and_globals/): keys of a
    subchart (`grafana.resources`, `redis-ha.sentinel`) are the subchart's, not the parent's. Read from
    the unpacked chart (chart cache or ../shared/upstream/charts); unchanged when it is not there."""
    from ..chart_cache import locate

    source = locate(pinned)
    return upstream if source is None or not isinstance(upstream, dict) else _with_dependencies(source.path, upstream)


def _with_dependencies(folder: Path, values: dict[str, Any]) -> dict[str, Any]:
    from .upstream_index import load_yaml_fast

    try:
        meta = load_yaml_fast((folder / "Chart.yaml").read_text()) or {}
    except OSError:
        return values
    out = dict(values)
    for dep in meta.get("dependencies") or []:
        sub_folder = folder / "charts" / str(dep.get("name"))
        try:
            sub = load_yaml_fast((sub_folder / "values.yaml").read_text()) or {}
        except OSError:
            continue
        key = str(dep.get("alias") or dep.get("name"))
        mine = out.get(key) if isinstance(out.get(key), dict) else {}
        out[key] = helm_merge(_with_dependencies(sub_folder, sub) if isinstance(sub, dict) else {}, mine)
    return out


def helm_merge(defaults: Any, overrides: Any) -> Any:
    """The values a chart's templates (and its values.schema.json) see: ours coalesced over the chart's.

    Like Helm: maps merge key by key, lists and scalars replace, `null` deletes the chart's key.
    """
    if not isinstance(defaults, dict) or not isinstance(overrides, dict):
        return overrides
    out = dict(defaults)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = helm_merge(out[key], value)
        else:
            out[key] = value
    return out


def _values_schema_errors(schema_path: Path, values: Any) -> list[str]:
    """Violations of a chart's values.schema.json by the merged values (Helm validates those);
    leaves that are secrets ("[secret]") are not judged."""
    validator = _schema_validator(str(schema_path))
    out = []
    for err in sorted(validator.iter_errors(values), key=lambda e: [str(p) for p in e.absolute_path]):
        if err.instance == SECRET:
            continue  # the real value is unknown here; a string schema would accept the marker anyway
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        msg = err.message if len(err.message) <= 240 else err.message[:239] + "…"
        out.append(f"{where}: {msg}")
    return out


@lru_cache(maxsize=None)
def _schema_validator(path: str):
    import jsonschema  # only when a release of a chart with a values.schema.json is planned

    from .upstream_index import load_json

    schema = load_json(path)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def check_helm_values(plan: Plan, root: Optional[Path] = None) -> list[Finding]:
    """Helm releases: pinned chart/repository/version, known value keys, values.schema.json."""
    from .upstream_index import charts_index_fast, load_json, load_values

    root = root or upstream_dir()
    releases = plan.helm_releases()
    findings: list[Finding] = []
    overrides = chart_overrides(plan)
    section = f"lfh:{plan.role}.chartVersions"
    for key in overrides:
        if key not in CHARTS:
            findings.append(Finding("helm-values", "error", stack_urn(plan),
                                    f"{section}.{key}: no pinned chart {key!r} (known: {', '.join(sorted(CHARTS))})"))
    used = set()
    index = charts_index_fast(root) if root is not None else None
    for res, rel in releases:
        label = f"Helm release {rel['namespace']}/{rel['name']} ({rel['chart']} {rel['version'] or '<no version>'})"
        pinned = chart_for(rel["chart"], rel["repository"])
        if pinned is None:
            findings.append(Finding("helm-values", "error", res.urn,
                                    f"{label}: chart {rel['chart']!r} from repository {rel['repository']!r} is not pinned "
                                    "in lfh/charts.py / charts.yaml (unknown chart or unpinned repository)"))
            continue
        used.add(pinned.key)
        entry = (index or {}).get("charts", {}).get(pinned.key) if index is not None else None
        if index is not None:
            if entry is None or (entry.get("chart"), _norm_repo(entry.get("repository", ""))) != (pinned.chart, _norm_repo(pinned.repository)):
                findings.append(Finding("helm-values", "error", res.urn,
                                        f"{label}: lfh/charts.py pins {pinned.key} as {pinned.chart} from {pinned.repository}, "
                                        f"but charts.yaml says {entry and (entry.get('chart'), entry.get('repository'))}"))
            elif str(entry.get("version")) != pinned.version:
                findings.append(Finding("helm-values", "error", res.urn,
                                        f"{label}: lfh/charts.py pins {pinned.key} {pinned.version}, charts.yaml {entry.get('version')}"))
        version = str(rel["version"])
        if version != pinned.version:
            override = overrides.get(pinned.key)
            if override is not None and str(override) == version:
                findings.append(Finding("helm-values", "warning", res.urn,
                                        f"{label}: version {version} overrides the pinned {pinned.version} "
                                        f"({section}.{pinned.key}); values are checked against the pinned chart's"))
            else:
                findings.append(Finding("helm-values", "error", res.urn,
                                        f"{label}: version {version or '<none>'} is not the pinned {pinned.version}"
                                        + (f" nor the override {override}" if override is not None else
                                           f" (to test another version, set {section}.{pinned.key})")))
        if root is None or entry is None:
            continue
        if not isinstance(rel["values"], dict):
            findings.append(Finding("helm-values", "warning", res.urn,
                                    f"{label}: values are {'a secret' if rel['values'] == SECRET else 'not a map'} as a whole; "
                                    "their keys were NOT checked (mark only the secret leaves secret)"))
            continue
        missing = [entry[k] for k in ("values", "values_schema") if entry.get(k) and not (root / entry[k]).is_file()]
        if missing:
            print(f"warning: {plan.stack}: upstream {', '.join(missing)} missing", file=sys.stderr)
            findings.append(Finding("upstream-missing", "warning", res.urn,
                                    f"{label}: upstream {', '.join(missing)} (listed in charts.yaml) missing: values NOT checked"))
            continue
        upstream = load_values(root, entry["values"]) if entry.get("values") else {}
        upstream = with_subchart_values(pinned, upstream)
        if entry.get("values"):
            allowed = EXTRA_VALUE_KEYS.get(pinned.key, {})
            schema = load_json(str(root / entry["values_schema"])) if entry.get("values_schema") else None
            bad = list(unknown_value_keys(rel["values"], upstream, allowed, schema=schema))
            for dotted, parent, hint in bad[:MAX_FINDINGS_PER_OBJECT]:
                findings.append(Finding("helm-values", "error", res.urn,
                                        f"{label}: values key {dotted!r} does not exist in {entry['values']} "
                                        f"(nearest existing parent: {parent})" + (f"; {hint}" if hint else "")))
        if entry.get("values_schema"):
            merged = helm_merge(upstream or {}, rel["values"])
            for msg in _values_schema_errors(root / entry["values_schema"], merged)[:MAX_FINDINGS_PER_OBJECT]:
                findings.append(Finding("helm-values", "error", res.urn,
                                        f"{label}: values violate {entry['values_schema']}: {msg}"))
    for key in sorted(set(overrides) & set(CHARTS) - used):
        findings.append(Finding("helm-values", "warning", stack_urn(plan),
                                f"{section}.{key}: overrides a chart this stack does not install"))
    if root is None:
        findings.append(upstream_missing(plan, "helm-values", "Helm values against values.yaml/values.schema.json"))
    return findings


def analyze(plan: Plan) -> None:
    plan.findings.extend(check_explicit_provider(plan))
    plan.findings.extend(check_k8s_schema(plan))
    root = upstream_dir()
    plan.findings.extend(check_crd_schema(plan, root))
    plan.findings.extend(check_helm_values(plan, root))
