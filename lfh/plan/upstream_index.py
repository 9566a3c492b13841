"""Fast, cached access to the upstream truth the conformance checks need.

- Kubernetes OpenAPI schemas: the strict JSON schemas `kubernetes-validate` ships, for the supported
  version nearest the cluster's (read straight from the package's data folder; its own `validate()`
  re-reads 1.4 MB of definitions per call).
- CRD schemas from the files `charts.yaml` lists. Those YAML files are big (argo-cd 1.8 MB,
  envoy-gateway 2.3 MB) and slow to parse, so: each file is split into its `---` documents, a cheap
  text scan notes which kinds each document may define, only documents that may define a kind we need
  are parsed (with libyaml when available), and the compact result (schemas without descriptions)
  is cached as JSON under `build/cache/conformance/`, keyed by file size + mtime.
- Charts' `values.yaml`, cached the same way.

`LFH_CACHE_DIR` moves the cache (tests use a fresh one to exercise the cold path).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional


CACHE_FORMAT = 2

#: API groups served by the Kubernetes API server itself (validated with the OpenAPI schemas);
#: every other group is a custom resource validated against its CRD.
BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "apiregistration.k8s.io", "certificates.k8s.io", "discovery.k8s.io",
    "events.k8s.io", "flowcontrol.apiserver.k8s.io", "node.k8s.io", "authentication.k8s.io",
    "authorization.k8s.io", "resource.k8s.io", "internal.apiserver.k8s.io", "storagemigration.k8s.io",
})

#: Gateway API kinds are checked against the standard-channel bundle only (charts.yaml
#: `crd_bundles.gateway-api`): the envoy-gateway chart may carry the experimental channel, and we
#: must never depend on experimental fields.
GATEWAY_API_GROUPS = frozenset({"gateway.networking.k8s.io", "gateway.networking.x-k8s.io"})
GATEWAY_API_BUNDLE = "gateway-api"


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    group, _, version = str(api_version).rpartition("/")
    return group, version


def is_builtin(api_version: str) -> bool:
    return split_api_version(api_version)[0] in BUILTIN_GROUPS


def cache_dir() -> Path:
    from .cache import root

    return root() / "conformance"


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}-{st.st_mtime_ns}"


def _write_json(path: Path, data: Any) -> None:
    """Atomic, best effort: a read-only or racing cache only costs speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)
    except OSError:
        pass


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _yaml_loader() -> type:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        """Accepts the bare `=` value (kube-prometheus-stack's AlertmanagerConfig CRD)."""

    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    return Loader


@lru_cache(maxsize=1)
def _loader() -> type:
    return _yaml_loader()


def load_yaml_all_fast(text: str) -> list[Any]:
    import yaml

    return [d for d in yaml.load_all(text, Loader=_loader()) if d is not None]


def load_yaml_fast(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=_loader())


# ---------------------------------------------------------------- Kubernetes OpenAPI schemas


@lru_cache(maxsize=1)
def k8s_schema_root() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("kubernetes-validate is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema"


@lru_cache(maxsize=1)
def k8s_versions() -> tuple[str, ...]:
    """Kubernetes minor versions with strict schemas, ascending (`("1.25", …, "1.37")`)."""
    found = set()
    for entry in k8s_schema_root().iterdir():
        m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", entry.name)
        if m:
            found.add((int(m.group(1)), int(m.group(2))))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def nearest_k8s_version(wanted: str) -> str:
    """The supported minor nearest ``wanted`` (the lower one on a tie)."""
    versions = k8s_versions()
    m = re.match(r"v?(\d+)\.(\d+)", str(wanted))
    if not m:
        return versions[-1]
    w = (int(m.group(1)), int(m.group(2)))

    def key(v: str) -> tuple[int, int]:
        a, b = (int(x) for x in v.split("."))
        return (abs((a * 1000 + b) - (w[0] * 1000 + w[1])), a * 1000 + b)

    return min(versions, key=key)


def _k8s_dir(version: str) -> Path:
    return k8s_schema_root() / f"v{version}.0-local-strict"


@lru_cache(maxsize=4)
def k8s_definitions(version: str) -> dict[str, Any]:
    """The version's shared definitions, without descriptions (1.4 MB -> 0.3 MB), cached."""
    source = _k8s_dir(version) / "_definitions.json"
    digest = hashlib.sha1(f"{CACHE_FORMAT}|{source}|{_stamp(source)}".encode()).hexdigest()[:20]
    cached = cache_dir() / "k8s" / f"{version}-{digest}.json"
    defs = _read_json(cached)
    if not isinstance(defs, dict):
        defs = _compact(json.loads(source.read_text())["$defs"], in_properties=True)
        _write_json(cached, defs)
    return defs


@lru_cache(maxsize=None)
def k8s_validator(version: str, api_version: str, kind: str, ignore_required: bool = False):
    """A validator for one built-in kind, or None when the version has no such kind/apiVersion."""
    from .schemas import Validator

    group, ver = split_api_version(api_version)
    # kubernetes-validate's file naming: <kind>-<first label of group>-<version>.json
    prefix = f"{group.split('.')[0]}-" if group else ""
    path = _k8s_dir(version) / f"{kind.lower()}-{prefix}{ver}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if gvks and not any(g.get("group", "") == group and g.get("version") == ver and g.get("kind") == kind for g in gvks):
        return None
    return Validator(schema, defs=k8s_definitions(version), ignore_required=ignore_required)


# ---------------------------------------------------------------- CRDs


@dataclass
class CrdVersion:
    name: str
    served: bool
    deprecated: bool
    deprecation_warning: str
    #: Where the version's compact schema is cached (read only when this version is validated).
    schema_path: Optional[Path] = None
    _schema: Any = None

    _validators: dict[bool, Any] = field(default_factory=dict)

    @property
    def schema(self) -> Optional[dict[str, Any]]:
        if self._schema is None and self.schema_path is not None:
            self._schema = _read_json(self.schema_path)
        return self._schema

    def validator(self, ignore_required: bool = False):
        """The structural-schema validator of this version (built once; ``ignore_required`` for patches)."""
        if ignore_required not in self._validators:
            from .schemas import Validator

            self._validators[ignore_required] = Validator(self.schema or {}, crd=True, ignore_required=ignore_required)
        return self._validators[ignore_required]


@dataclass
class Crd:
    group: str
    kind: str
    scope: str
    source: str  # path relative to the upstream folder
    versions: dict[str, CrdVersion] = field(default_factory=dict)


_STRIP = frozenset({"description", "example", "examples", "x-kubernetes-validations"})
_KIND_HINT = re.compile(r"^[ \t]*kind:[ \t]*[\"']?([A-Za-z][A-Za-z0-9]*)", re.M)
_DOC_SPLIT = re.compile(r"^---[ \t]*$", re.M)


def _compact(schema: Any, in_properties: bool = False) -> Any:
    """A schema without documentation (descriptions are most of a CRD's bytes)."""
    if isinstance(schema, dict):
        return {k: _compact(v, k == "properties" and not in_properties) for k, v in schema.items()
                if in_properties or k not in _STRIP}
    if isinstance(schema, list):
        return [_compact(v) for v in schema]
    return schema


def _crd_record(doc: Any) -> Optional[dict[str, Any]]:
    if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
        return None
    spec = doc.get("spec") or {}
    versions = {}
    legacy = (spec.get("validation") or {}).get("openAPIV3Schema")  # apiextensions v1beta1
    for v in spec.get("versions") or []:
        schema = (v.get("schema") or {}).get("openAPIV3Schema", legacy)
        versions[v["name"]] = {
            "served": bool(v.get("served", True)),
            "deprecated": bool(v.get("deprecated", False)),
            "deprecationWarning": v.get("deprecationWarning") or "",
            "schema": _compact(schema) if schema is not None else None,
        }
    return {"group": spec.get("group", ""), "kind": (spec.get("names") or {}).get("kind", ""),
            "scope": spec.get("scope", ""), "versions": versions}


class CrdIndex:
    """Finds the CRD of a (group, version, kind) in the upstream CRD files, parsing as little as possible."""

    def __init__(self, root: Path, files: list[str], bundle_files: dict[str, str]):
        self.root = Path(root)
        self.files = files
        self.bundle_files = bundle_files
        self._index_path = cache_dir() / "crd-index.json"
        self._index: dict[str, Any] = {}
        self._dirty = False
        self._docs: dict[tuple[str, int], Optional[dict[str, Any]]] = {}
        self._texts: dict[str, str] = {}
        self._crds: dict[tuple[str, int], Crd] = {}
        self._entries: dict[str, dict[str, Any]] = {}
        #: CRD files charts.yaml lists that do not exist.
        self.missing_files: set[str] = set()
        self.parsed_documents = 0  # for tests and measurements

    @classmethod
    def from_charts_yaml(cls, root: Path) -> "CrdIndex":
        index = charts_index_fast(Path(root))
        files: list[str] = []
        bundles: dict[str, str] = {}
        for key, entry in (index.get("crd_bundles") or {}).items():
            if entry.get("crds"):
                bundles[key] = entry["crds"]
                files.append(entry["crds"])
        for entry in (index.get("charts") or {}).values():
            if entry.get("crds") and entry["crds"] not in files:
                files.append(entry["crds"])
        return cls(root, files, bundles)

    # -- the per-file document index (offsets + kind hints), cached on disk

    def _load_index(self) -> None:
        if self._index:
            return
        data = _read_json(self._index_path)
        if isinstance(data, dict) and data.get("format") == CACHE_FORMAT:
            self._index = data.get("files") or {}
        self._index = {k: v for k, v in self._index.items() if isinstance(v, dict)}

    def _file_entry(self, rel: str) -> dict[str, Any]:
        if rel not in self._entries:
            self._entries[rel] = self._stat_entry(rel)
        return self._entries[rel]

    def _stat_entry(self, rel: str) -> dict[str, Any]:
        self._load_index()
        path = self.root / rel
        if not path.is_file():
            self.missing_files.add(rel)  # reported by the check; never a silent pass
            return {"stamp": None, "docs": []}
        stamp = _stamp(path)
        entry = self._index.get(str(path))
        if entry is None or entry.get("stamp") != stamp:
            text = self._text(rel)
            docs = []
            starts = [0] + [m.end() for m in _DOC_SPLIT.finditer(text)]
            ends = [m.start() for m in _DOC_SPLIT.finditer(text)] + [len(text)]
            for start, end in zip(starts, ends, strict=True):
                hints = sorted(set(_KIND_HINT.findall(text, start, end)) - {"CustomResourceDefinition"})
                if hints:
                    docs.append([start, end, hints])
            entry = {"stamp": stamp, "docs": docs}
            self._index[str(path)] = entry
            self._dirty = True
        return entry

    def _text(self, rel: str) -> str:
        if rel not in self._texts:
            self._texts[rel] = (self.root / rel).read_text()
        return self._texts[rel]

    def save(self) -> None:
        if self._dirty:
            _write_json(self._index_path, {"format": CACHE_FORMAT, "files": self._index})
            self._dirty = False

    # -- documents (parsed lazily, cached on disk)

    def _doc(self, rel: str, entry: dict[str, Any], i: int) -> Optional[dict[str, Any]]:
        key = (rel, i)
        if key in self._docs:
            return self._docs[key]
        start, end, _ = entry["docs"][i]
        digest = hashlib.sha1(f"{CACHE_FORMAT}|{self.root / rel}|{entry['stamp']}|{start}".encode()).hexdigest()[:20]
        path = cache_dir() / "crd" / f"{digest}.json"
        record = _read_json(path)
        if isinstance(record, dict) and not all((path.parent / v["schemaFile"]).is_file()
                                                for v in (record.get("versions") or {}).values() if v.get("schemaFile")):
            record = None  # a partial cache: parse again
        if not isinstance(record, dict):
            self.parsed_documents += 1
            docs = load_yaml_all_fast(self._text(rel)[start:end])
            record = next((r for r in map(_crd_record, docs) if r is not None), None) or {"notCrd": True}
            # One file per (group, version, kind): a run reads only the versions it validates.
            for name, version in (record.get("versions") or {}).items():
                schema = version.pop("schema")
                if schema is not None:
                    version["schemaFile"] = f"{digest}-{hashlib.sha1(name.encode()).hexdigest()[:8]}.json"
                    _write_json(path.parent / version["schemaFile"], schema)
                    version["_schema"] = schema  # in memory for this run; never written in the record
            _write_json(path, {k: v for k, v in record.items() if k != "versions"} | {"versions": {
                n: {k: x for k, x in v.items() if k != "_schema"} for n, v in (record.get("versions") or {}).items()}})
        result = None if record.get("notCrd") else record
        self._docs[key] = result
        return result

    def _candidate_files(self, group: str) -> list[str]:
        if group in GATEWAY_API_GROUPS and GATEWAY_API_BUNDLE in self.bundle_files:
            return [self.bundle_files[GATEWAY_API_BUNDLE]]
        gateway_file = self.bundle_files.get(GATEWAY_API_BUNDLE)
        return [f for f in self.files if f != gateway_file] + ([gateway_file] if gateway_file else [])

    def kinds_near(self, group: str, kind: str) -> list[str]:
        """Kinds the candidate files may define that look like ``kind`` (for "did you mean")."""
        hints = {h for rel in self._candidate_files(group) for _, _, hs in self._file_entry(rel)["docs"] for h in hs}
        by_lower = {h.lower(): h for h in hints}
        import difflib

        return [by_lower[m] for m in difflib.get_close_matches(kind.lower(), list(by_lower), n=2, cutoff=0.8)]

    def find(self, group: str, kind: str) -> Optional[Crd]:
        """The CRD defining ``group``/``kind`` (None if no upstream file has it)."""
        files = self._candidate_files(group)
        for exhaustive in (False, True):
            for rel in files:
                entry = self._file_entry(rel)
                for i, (_, _, hints) in enumerate(entry["docs"]):
                    if not exhaustive and kind not in hints:
                        continue
                    rec = self._doc(rel, entry, i)
                    if rec and rec["group"] == group and rec["kind"] == kind:
                        if (rel, i) not in self._crds:
                            self._crds[(rel, i)] = self._crd(rec, rel)
                        return self._crds[(rel, i)]
        return None

    @staticmethod
    def _crd(rec: dict[str, Any], rel: str) -> Crd:
        crd = Crd(rec["group"], rec["kind"], rec.get("scope", ""), rel)
        for name, v in rec["versions"].items():
            path = cache_dir() / "crd" / v["schemaFile"] if v.get("schemaFile") else None
            crd.versions[name] = CrdVersion(name, v["served"], v["deprecated"], v["deprecationWarning"], path,
                                            v.get("_schema"))
        return crd


@lru_cache(maxsize=None)
def crd_validator(schema_json: str):
    from .schemas import Validator

    return Validator(json.loads(schema_json), crd=True)


# ---------------------------------------------------------------- charts.yaml, values.yaml


def charts_index_fast(root: Path) -> dict[str, Any]:
    """`charts.yaml` (libyaml; lfh.upstream.charts_index parses the same file in pure Python)."""
    path = Path(root) / "charts.yaml"
    return _charts_index(str(path), _stamp(path))


@lru_cache(maxsize=8)
def _charts_index(path: str, stamp: str) -> dict[str, Any]:
    return load_yaml_fast(Path(path).read_text()) or {}



def load_values(root: Path, rel: str) -> Any:
    """A chart's upstream `values.yaml` as data (JSON-cached)."""
    path = Path(root) / rel
    digest = hashlib.sha1(f"{CACHE_FORMAT}|{path}|{_stamp(path)}".encode()).hexdigest()[:20]
    cached = cache_dir() / "values" / f"{digest}.json"
    data = _read_json(cached)
    if isinstance(data, dict) and "values" in data:
        return data["values"]
    values = load_yaml_fast(path.read_text())
    try:
        json.dumps(values)
    except (TypeError, ValueError):  # dates or other non-JSON scalars: don't cache
        return values
    _write_json(cached, {"values": values})
    return values


@lru_cache(maxsize=None)
def load_json(path: str) -> Any:
    return json.loads(Path(path).read_text())
