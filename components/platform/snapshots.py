"""How Velero backs up volumes: CSI snapshots (with a Velero-labelled VolumeSnapshotClass per CSI driver)
where the cluster can take them, Velero's file-system backup (node agent, kopia) where it cannot.

Velero's CSI path picks, for a PVC of driver D, the VolumeSnapshotClass of driver D labelled
`velero.io/csi-volumesnapshot-class: "true"` — one per driver (Velero v1.18 docs, csi.md,
"Implementation Choices" 3) — and needs the snapshot.storage.k8s.io CRDs and the snapshot controller
(same page, "How it Works"). With `snapshotMoveData` its data mover then copies the snapshot's data
into the backup bucket (csi-snapshot-data-movement.md), so the backup outlives the cluster.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import pulumi

from ..cluster.contract import ClusterContract
from ..k8s import child_opts, labels, meta
from ..sdk import _sdk_defaults

SNAPSHOT_API = "snapshot.storage.k8s.io/v1"
VELERO_CLASS_LABEL = "velero.io/csi-volumesnapshot-class"
LONGHORN_DRIVER = "driver.longhorn.io"
#: Longhorn's VolumeSnapshotClass `type`: `snap` makes an in-cluster Longhorn snapshot, `bak` a Longhorn
#: backup to its own target (Longhorn 1.12.1 docs, "CSI VolumeSnapshot Associated with Longhorn
#: Snapshot/Backup"). Velero's data mover copies the snapshot to the bucket itself, so `snap`: `bak`
#: would push a second, slower copy through Longhorn's backup target on every Velero backup.
LONGHORN_PARAMETERS = {"type": "snap"}
#: Short names for the class names (`velero-<short>`).
DRIVER_NAMES = {LONGHORN_DRIVER: "longhorn", "ebs.csi.aws.com": "ebs", "disk.csi.azure.com": "azure-disk",
                "pd.csi.storage.gke.io": "gce-pd"}


def class_name(driver: str) -> str:
    """`velero-<driver>`: the Velero VolumeSnapshotClass of ``driver``."""
    short = DRIVER_NAMES.get(driver) or "-".join(x for x in driver.replace("_", "-").split(".") if x not in ("csi", "driver"))
    return f"velero-{short}"[:63]


@dataclass
class VolumeBackup:
    """The platform's choice of volume backup, exported to client stacks (contract `backups`)."""

    #: `csi` (CSI snapshots, data moved to the bucket) or `fs` (Velero file-system backup).
    mode: str
    #: CSI driver of every StorageClass the platform creates or hands out (known drivers only).
    drivers: dict[str, str] = field(default_factory=dict)
    #: Who runs the snapshot controller (ClusterContract.snapshots.controller).
    controller: str = ""
    #: Why file-system backup was chosen ('' for csi).
    reason: str = ""

    def contract(self) -> dict[str, Any]:
        return {"mode": self.mode, "drivers": dict(self.drivers), "controller": self.controller, "reason": self.reason}


def volume_backup(cluster: ClusterContract, classes: dict[str, str], longhorn: bool) -> VolumeBackup:
    """CSI snapshots when the snapshot controller runs and every class workloads use (`default`,
    `encrypted`) has a known CSI driver; file-system backups otherwise."""
    drivers: dict[str, str] = dict(cluster.snapshots.drivers)
    if longhorn:
        drivers.update({name: LONGHORN_DRIVER for role, name in classes.items() if role in ("default", "encrypted")})
    known = {name: drivers[name] for name in set(classes.values()) if name in drivers}
    used = {classes[role] for role in ("default", "encrypted") if role in classes}
    controller = cluster.snapshots.controller
    if not controller:
        return VolumeBackup("fs", known, "", "no CSI snapshot controller on this cluster (an existing cluster: install "
                                             "external-snapshotter and set lfh:platform.cluster.snapshotController)")
    unknown = sorted(c for c in used if c not in drivers)
    if unknown:
        return VolumeBackup("fs", known, controller,
                            f"StorageClass {', '.join(unknown)} has no known CSI driver "
                            "(lfh:platform.cluster.storageClassDriver)")
    return VolumeBackup("csi", known, controller)


def snapshot_classes(owner: pulumi.Resource, provider: pulumi.ProviderResource, cluster: ClusterContract,
                     plan: VolumeBackup, *, depends_on: Sequence[pulumi.Resource]) -> list[pulumi.Resource]:
    """One Velero-labelled VolumeSnapshotClass per CSI driver of the platform's classes."""
    if plan.mode != "csi":
        return []
    out = []
    for driver in sorted(set(plan.drivers.values())):
        params = LONGHORN_PARAMETERS if driver == LONGHORN_DRIVER else cluster.snapshots.parameters.get(driver, {})
        name = class_name(driver)
        lbl = {**labels(name, component="backups"), VELERO_CLASS_LABEL: "true"}
        # A kind with top-level fields (no `spec`): registered as the Kubernetes provider takes any
        # custom resource (type `kubernetes:<apiVersion>:<kind>`, the object's fields as inputs).
        out.append(pulumi.CustomResource(
            f"kubernetes:{SNAPSHOT_API}:VolumeSnapshotClass", f"{owner._name}-{name}",  # type: ignore[attr-defined]
            {"apiVersion": SNAPSHOT_API, "kind": "VolumeSnapshotClass", "metadata": meta(name, labels=lbl),
             "driver": driver,
             # Velero removes a backup's snapshots with the backup (csi.md "Implementation Choices" 1);
             # `Delete` lets it, and data-moved backups keep only their copy in the bucket.
             "deletionPolicy": "Delete", "parameters": dict(params)},
            pulumi.ResourceOptions.merge(child_opts(owner, provider, depends_on=list(depends_on)),
                                         pulumi.ResourceOptions(version=_sdk_defaults("kubernetes").version))))
    return out
