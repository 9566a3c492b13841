"""CRD schemas the plan checks our objects against that no pinned chart or upstream CRD file carries,
each written here from the upstream API type definition it names (never a fetched file).

The crd-schema check (lfh/plan/conformance.py) falls back to these after the upstream CRD files and the
CRDs the rendered charts install. An entry must name the repository, tag and file it was written from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: `deletionPolicy` values: `+kubebuilder:validation:Enum=Delete;Retain` on `type DeletionPolicy string`.
_DELETION_POLICY = {"type": "string", "enum": ["Delete", "Retain"]}


@dataclass(frozen=True)
class ExtraCrd:
    group: str
    kind: str
    scope: str
    #: version -> openAPIV3Schema (structural, as controller-gen would emit it for the Go type)
    versions: dict[str, dict[str, Any]]
    #: versions the CRD defines but no longer serves
    not_served: tuple[str, ...]
    #: where the schema was written from
    source: str


#: VolumeSnapshotClass, written from kubernetes-csi/external-snapshotter tag v8.6.0,
#: client/apis/volumesnapshot/v1/types.go `type VolumeSnapshotClass struct` (cluster-scoped, shortName
#: vsclass): `driver string` (required), `parameters map[string]string` (optional),
#: `deletionPolicy DeletionPolicy` (required, enum Delete;Retain). The v1beta1 version is defined with
#: `served: false` in that tag's client/config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml.
VOLUME_SNAPSHOT_CLASS = ExtraCrd(
    group="snapshot.storage.k8s.io",
    kind="VolumeSnapshotClass",
    scope="Cluster",
    versions={"v1": {
        "type": "object",
        "required": ["deletionPolicy", "driver"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "driver": {"type": "string"},
            "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
            "deletionPolicy": _DELETION_POLICY,
        },
    }},
    not_served=("v1beta1",),
    source="kubernetes-csi/external-snapshotter v8.6.0 client/apis/volumesnapshot/v1/types.go (written in lfh/plan/extra_crds.py)",
)

EXTRA_CRDS: dict[tuple[str, str], ExtraCrd] = {(c.group, c.kind): c for c in (VOLUME_SNAPSHOT_CLASS,)}


def extra_crd(group: str, kind: str) -> Any:
    """The CRD record (upstream_index.Crd) of an explicitly sourced schema, or None."""
    from .upstream_index import Crd, CrdVersion

    entry = EXTRA_CRDS.get((group, kind))
    if entry is None:
        return None
    crd = Crd(entry.group, entry.kind, entry.scope, entry.source)
    for name, schema in entry.versions.items():
        crd.versions[name] = CrdVersion(name, True, False, "", None, schema)
    for name in entry.not_served:
        crd.versions[name] = CrdVersion(name, False, True, "", None, None)
    return crd
