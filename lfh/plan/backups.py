"""Backup checks inside `plan`: would the backups hold data on a real cluster?

- [backup-snapshots] Velero's CSI path on (the chart's `EnableCSI` feature) and volume snapshots asked
  for ⇒ every StorageClass the platform creates or a workload uses has exactly one VolumeSnapshotClass
  of its CSI driver labelled `velero.io/csi-volumesnapshot-class: "true"` (Velero v1.18 docs, csi.md),
  and the snapshot CRDs/controller are there: the EKS `snapshot-controller` add-on, AKS's storage
  profile, GKE's PD CSI driver, or an existing cluster's operator (a warning: a precondition the plan
  cannot see). Without CSI snapshots, schedules must use file-system backups with the node agent.
- [backup-credentials] every backup tool has credentials its backend accepts on that cloud:
  key-based tools (Longhorn's Azure/GCS/S3-compatible targets, Percona Backup for MongoDB off AWS) read
  a synced Secret whose stored key traces back to a storage account that allows shared keys (Azure),
  an HMAC key (GCS) or a generated/provided key pair (S3-compatible); identity-based ones run every
  uploading pod (Velero's node agent included) as the annotated service account, with the Azure
  workload-identity pod label. Velero's repository password comes from the secret store, not its
  built-in default.
- [backup-retention] every backup Schedule's TTL fits the lifecycle rule of its location's prefix in
  the bucket (a backup must not outlive its objects).
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from .model import Finding, Plan, Resource

SNAPSHOTS, CREDENTIALS, RETENTION = "backup-snapshots", "backup-credentials", "backup-retention"
VELERO_CLASS_LABEL = "velero.io/csi-volumesnapshot-class"
VSC_KIND = "VolumeSnapshotClass"
AZURE_WI_LABEL = "azure.workload.identity/use"
#: The service-account annotation a cloud's workload identity needs, by platform cloud kind.
IDENTITY_ANNOTATION = {"aws": "eks.amazonaws.com/role-arn", "azure": "azure.workload.identity/client-id",
                       "gcp": "iam.gke.io/gcp-service-account"}
#: Secret keys each key-based backend reads.
KEYS = {"longhorn-azure": ("AZBLOB_ACCOUNT_NAME", "AZBLOB_ACCOUNT_KEY"),
        "longhorn-s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        "pbm-azure": ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY"),
        "pbm-s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
STORED_SECRET_TYPES = {"aws:secretsmanager/secret:Secret": "name", "azure-native:keyvault:Secret": "secretName",
                       "gcp:secretmanager/secret:Secret": "secretId", "kubernetes:core/v1:Secret": None}
VERSION_TYPES = ("aws:secretsmanager/secretVersion:SecretVersion", "gcp:secretmanager/secretVersion:SecretVersion")
HMAC_KEY = "gcp:storage/hmacKey:HmacKey"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
GENERATED = ("random:index/randomPassword:RandomPassword",)


def analyze(plan: Plan) -> None:
    plan.findings.extend(check_snapshots(plan))
    plan.findings.extend(check_credentials(plan))
    plan.findings.extend(check_retention(plan))


# ---------------------------------------------------------------- helpers


def _objects(plan: Optional[Plan]) -> list[Any]:
    if plan is None:
        return []
    from .render import cluster_objects

    return cluster_objects(plan)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _platform(plan: Plan) -> Plan:
    return plan.platform if plan.platform is not None else plan


def _backups_output(plan: Plan) -> dict[str, Any]:
    return dict((_platform(plan).outputs or {}).get("backups") or {})


def _cloud_kind(plan: Plan) -> str:
    return str(((_platform(plan).outputs or {}).get("cloud") or {}).get("kind") or "")


def _key_source(plan: Plan, tool: str) -> str:
    """Where a key-based platform tool's key comes from: `stored`, `generate` or `operator`."""
    return str((_backups_output(plan).get("keySource") or {}).get(tool) or "")


def _velero_values(plan: Plan) -> Optional[tuple[Resource, dict[str, Any]]]:
    for res, rel in _platform(plan).helm_releases():
        if rel["chart"] == "velero":
            return res, rel["values"] or {}
    return None


def _walk(value: Any, key: str) -> Iterator[Any]:
    """Every value of ``key`` anywhere inside ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)


def _pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [spec.get("template") or {}]
    if obj.get("kind") == "CronJob":
        return [((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}]
    return []


# ---------------------------------------------------------------- backup-snapshots


def _storage_classes(plan: Plan) -> dict[str, tuple[str, str]]:
    """name -> (CSI driver or '', urn) of the StorageClasses the platform creates or hands out to workloads."""
    out: dict[str, tuple[str, str]] = {}
    for o in _objects(_platform(plan)):
        if o.kind == "StorageClass" and o.name:
            out[o.name] = (str(o.obj.get("provisioner") or ""), o.urn)
    drivers = dict(((_backups_output(plan).get("volumeBackup") or {}).get("drivers")) or {})
    handed_out = (_platform(plan).outputs or {}).get("storageClasses") or {}
    for role in ("default", "encrypted"):   # what client workloads are given (`cloud` only if created above)
        name = handed_out.get(role)
        if name and name not in out:
            out[name] = (drivers.get(name, ""), "")
    return out


def _velero_classes(plan: Plan) -> dict[str, list[Any]]:
    """CSI driver -> the Velero-labelled VolumeSnapshotClasses of it."""
    out: dict[str, list[Any]] = {}
    for o in _objects(_platform(plan)):
        if o.kind == VSC_KIND and str((_meta(o.obj).get("labels") or {}).get(VELERO_CLASS_LABEL)) == "true":
            out.setdefault(str(o.obj.get("driver") or ""), []).append(o)
    return out


def _controller_present(plan: Plan, controller: str) -> tuple[bool, str]:
    """(present, how it is known) of the snapshot controller the platform says runs."""
    p = _platform(plan)
    if controller == "eks-addon":
        ok = any(r.inputs.get("addonName") == "snapshot-controller" for r in p.of_type("aws:eks/addon:Addon"))
        return ok, "the EKS add-on `snapshot-controller`"
    if controller == "aks":
        clusters = p.of_type("azure-native:containerservice:ManagedCluster")
        ok = bool(clusters) and all(
            ((c.inputs.get("storageProfile") or {}).get("snapshotController") or {}).get("enabled", True) is not False
            for c in clusters)
        return ok, "the AKS storage profile's snapshot controller"
    if controller == "gke":
        clusters = p.of_type("gcp:container/cluster:Cluster")
        ok = bool(clusters) and all(
            (((c.inputs.get("addonsConfig") or {}).get("gcePersistentDiskCsiDriverConfig") or {}).get("enabled")) is True
            for c in clusters)
        return ok, "GKE's Compute Engine PD CSI driver add-on"
    return False, ""


def check_snapshots(plan: Plan) -> list[Finding]:
    velero = _velero_values(plan)
    if velero is None:
        return []
    release, values = velero
    config = values.get("configuration") or {}
    csi_on = "EnableCSI" in str(config.get("features") or "")
    volume_backup = _backups_output(plan).get("volumeBackup") or {}
    mode = volume_backup.get("mode") or "csi"
    findings: list[Finding] = []
    schedules = [o for o in _objects(plan) if o.kind == "Schedule"]
    wants_snapshots = plan.role == "platform" or any(
        ((o.obj.get("spec") or {}).get("template") or {}).get("snapshotVolumes") for o in schedules)

    for o in schedules:
        template = (o.obj.get("spec") or {}).get("template") or {}
        if template.get("snapshotVolumes") and (not csi_on or mode != "csi"):
            findings.append(Finding(SNAPSHOTS, "error", o.urn, (
                f"Schedule {o.name} asks for volume snapshots, but the platform takes "
                f"{'no CSI snapshots (' + (volume_backup.get('reason') or 'EnableCSI is off') + ')' if mode != 'csi' else 'none (Velero EnableCSI is off)'}: "
                "set snapshotVolumes false and defaultVolumesToFsBackup true (file-system backup)")))
        if plan.role == "client" and not template.get("snapshotVolumes") and not template.get("defaultVolumesToFsBackup"):
            findings.append(Finding(SNAPSHOTS, "error", o.urn, (
                f"Schedule {o.name} backs up no volume data (no snapshots, no file-system backup): set "
                "snapshotVolumes (CSI) or defaultVolumesToFsBackup")))
    if mode != "csi":
        if not values.get("deployNodeAgent"):
            findings.append(Finding(SNAPSHOTS, "error", release.urn, (
                "Velero: volumes get file-system backups on this platform, but the node agent is not deployed "
                "(chart value deployNodeAgent)")))
        return findings
    if not (csi_on and wants_snapshots):
        return findings

    classes = _storage_classes(plan)
    if plan.role == "client":
        used = {v for o in _objects(plan) for v in _walk(o.obj, "storageClassName") if isinstance(v, str) and v}
        classes = {name: classes.get(name, ("", "")) for name in used}
    by_driver = _velero_classes(plan)
    for name, (driver, urn) in sorted(classes.items()):
        where = urn or release.urn
        if not driver:
            findings.append(Finding(SNAPSHOTS, "error", where, (
                f"StorageClass {name}: its CSI driver is unknown, so Velero cannot snapshot its volumes; name it "
                "(lfh:platform.cluster.storageClassDriver) or let its volumes get file-system backups")))
            continue
        found = by_driver.get(driver, [])
        if not found:
            findings.append(Finding(SNAPSHOTS, "error", where, (
                f"StorageClass {name} (driver {driver}): no VolumeSnapshotClass of driver {driver} is labelled "
                f"{VELERO_CLASS_LABEL}: \"true\", so Velero's CSI snapshots of its volumes fail; create one "
                "(components/platform/snapshots.py) or use file-system backups")))
        elif len(found) > 1:
            findings.append(Finding(SNAPSHOTS, "error", found[1].urn, (
                f"driver {driver} has {len(found)} Velero-labelled VolumeSnapshotClasses "
                f"({', '.join(o.name for o in found)}); Velero wants exactly one per driver")))
    controller = str(volume_backup.get("controller") or "")
    if controller == "operator":
        findings.append(Finding(SNAPSHOTS, "warning", release.urn, (
            "precondition: this existing cluster's operator runs the snapshot.storage.k8s.io CRDs and the CSI "
            "snapshot controller (kubernetes-csi/external-snapshotter v8, client/config/crd and "
            "deploy/kubernetes/snapshot-controller; lfh:platform.cluster.snapshotController says so): without "
            "them every Velero backup with snapshots ends PartiallyFailed")))
    elif plan.role == "platform":
        present, how = _controller_present(plan, controller)
        if not present:
            findings.append(Finding(SNAPSHOTS, "error", release.urn, (
                f"Velero's CSI snapshots need the snapshot CRDs and controller, but the cluster does not run them "
                f"({how or 'nobody installs them'}): enable {how or 'a snapshot controller'}")))
    return findings


# ---------------------------------------------------------------- backup-credentials


def _stored(plan: Plan, remote_key: str) -> Optional[Resource]:
    """The resource that stores ``remote_key`` in the secret store (cloud secret or source Secret)."""
    name = remote_key.partition("#")[0]
    for p in [plan] + ([plan.platform] if plan.platform is not None else []):
        for r in p.resources:
            if r.type not in STORED_SECRET_TYPES:
                continue
            field = STORED_SECRET_TYPES[r.type]
            value = r.inputs.get(field) if field else (r.inputs.get("metadata") or {}).get("name")
            if value == name:
                return r
    return None


def _sources(plan: Plan, stored: Resource) -> list[Resource]:
    """The resources a stored secret's value came from (its own and its versions' dependencies)."""
    plans = [plan] + ([plan.platform] if plan.platform is not None else [])
    by_urn = {r.urn: r for p in plans for r in p.resources}
    deps = set(stored.dependencies)
    for p in plans:
        for r in p.resources:
            if r.type in VERSION_TYPES and stored.urn in r.dependencies:
                deps |= set(r.dependencies)
    return [by_urn[u] for u in deps if u in by_urn]


def _account_allows_keys(account: Resource) -> bool:
    return account.inputs.get("allowSharedKeyAccess") is True


def _key_findings(plan: Plan, what: str, es: Any, kind: str, required: tuple[str, ...], *,
                  operator: bool = False) -> list[Finding]:
    """A key-based tool's ExternalSecret: the keys it syncs, and where the stored key comes from."""
    findings: list[Finding] = []
    data = {d.get("secretKey"): (d.get("remoteRef") or {}) for d in ((es.obj.get("spec") or {}).get("data") or [])}
    extracted = bool((es.obj.get("spec") or {}).get("dataFrom"))
    missing = [k for k in required if k not in data]
    if missing and not extracted:
        findings.append(Finding(CREDENTIALS, "error", es.urn,
                                f"{what}: Secret {es.name} lacks {', '.join(missing)}, which the tool reads"))
    refs = [data[k] for k in required if k in data]
    stored = [s for s in (_stored(plan, str(ref.get("key") or "")) for ref in refs) if s is not None]
    sources = list({src.urn: src for s in stored for src in _sources(plan, s)}.values())
    if kind == "azure":
        accounts = [s for s in sources if s.type == STORAGE_ACCOUNT]
        annotated = str((_meta(es.obj).get("annotations") or {}).get("lfh.io/backup-storage-account") or "")
        if annotated:
            accounts += [r for p in (plan, plan.platform) if p is not None for r in p.of_type(STORAGE_ACCOUNT)
                         if r.inputs.get("accountName") == annotated and r not in accounts]
        if not accounts:
            findings.append(Finding(CREDENTIALS, "error", es.urn, (
                f"{what} authenticates to Azure Blob with an account key, but no storage account key is stored for "
                "it: give it a key-based account (components/cluster/backup_keys.py azure_keyed_account)")))
        for account in accounts:
            if not _account_allows_keys(account):
                findings.append(Finding(CREDENTIALS, "error", account.urn, (
                    f"{what} authenticates with the account key of storage account "
                    f"{account.inputs.get('accountName') or account.name}, which refuses shared-key access "
                    "(allowSharedKeyAccess is not true): the tool's backups are refused. Use a key-based account "
                    "for the tool (components/cluster/backup_keys.py) and keep the main account Entra ID only")))
    elif kind == "gcs":
        if not any(s.type == HMAC_KEY for s in sources):
            findings.append(Finding(CREDENTIALS, "error", es.urn, (
                f"{what} writes to GCS with an HMAC key, but no HMAC key is created and stored for it "
                f"(missing HMAC key: a gcp:storage/hmacKey:HmacKey of a service account scoped to its prefix, "
                "stored where Secret {es.name} reads it; components/cluster/backup_keys.py gcp_hmac_key)")))
        for s in sources:
            if s.type == HMAC_KEY and str(s.inputs.get("state") or "ACTIVE") != "ACTIVE":
                findings.append(Finding(CREDENTIALS, "error", s.urn, f"{what}: its HMAC key is {s.inputs.get('state')}"))
    elif kind == "s3-compatible" and not stored and not extracted:
        if operator:
            findings.append(Finding(CREDENTIALS, "warning", es.urn, (
                f"precondition: {what} reads a key pair an operator provides; store it at "
                f"{', '.join(sorted({str(r.get('key')) for r in refs}))} before `pulumi up` (or set "
                "lfh:platform.cluster.backupCredentials: generated)")))
        else:
            findings.append(Finding(CREDENTIALS, "error", es.urn,
                                    f"{what}: the key pair Secret {es.name} reads is stored nowhere in the plan"))
    return findings


def _identity_findings(plan: Plan, what: str, objects: list[Any], pods: list[Any], service_account: str,
                       namespace: str) -> list[Finding]:
    """An identity-based tool: its service account carries the cloud identity, every uploading pod runs
    as it (and carries the Azure workload-identity label)."""
    kind = _cloud_kind(plan)
    annotation = IDENTITY_ANNOTATION.get(kind)
    if annotation is None:
        return []
    findings: list[Finding] = []
    sas = [o for o in objects if o.kind == "ServiceAccount" and o.name == service_account and o.namespace == namespace]
    if not sas or not (_meta(sas[0].obj).get("annotations") or {}).get(annotation):
        where = sas[0].urn if sas else (pods[0].urn if pods else "")
        findings.append(Finding(CREDENTIALS, "error", where, (
            f"{what} uses its cloud identity, but ServiceAccount {namespace}/{service_account} has no {annotation} "
            "annotation: uploads are refused")))
    for pod in pods:
        for template in _pod_templates(pod.obj) or [pod.obj.get("spec") or {}]:
            spec = template.get("spec") or template
            if (spec.get("serviceAccountName") or "default") != service_account:
                findings.append(Finding(CREDENTIALS, "error", pod.urn, (
                    f"{what}: {pod.kind} {pod.namespace}/{pod.name} uploads backups but runs as "
                    f"{spec.get('serviceAccountName') or 'default'}, not the identity-bound {service_account}")))
            if kind == "azure" and str(((template.get("metadata") or {}).get("labels") or {}).get(AZURE_WI_LABEL)) != "true":
                findings.append(Finding(CREDENTIALS, "error", pod.urn, (
                    f"{what}: {pod.kind} {pod.namespace}/{pod.name} uploads backups without the pod label "
                    f"{AZURE_WI_LABEL}: \"true\", so Azure workload identity injects no token: add it "
                    "(Velero: nodeAgent.podLabels too — its data movers copy the node agent's label)")))
    return findings


def check_credentials(plan: Plan) -> list[Finding]:
    objects = _objects(plan)
    flavour = str(_backups_output(plan).get("flavour") or "")
    findings: list[Finding] = []
    if plan.role == "platform":
        findings += _platform_credentials(plan, objects, flavour)
    else:
        findings += _client_credentials(plan, objects, flavour)
    return findings


def _platform_credentials(plan: Plan, objects: list[Any], flavour: str) -> list[Finding]:
    findings: list[Finding] = []
    velero = _velero_values(plan)
    externals = [o for o in objects if o.kind == "ExternalSecret"]
    if velero is not None:
        release, values = velero
        if (values.get("credentials") or {}).get("useSecret"):
            es = [o for o in externals if o.namespace == "velero" and o.name == (values["credentials"].get("existingSecret"))]
            if es:
                findings += _key_findings(plan, "Velero", es[0], "s3-compatible", ("accessKeyId", "secretAccessKey"),
                                          operator=_key_source(plan, "velero") == "operator")
            elif any(o.kind == "ClusterSecretStore" for o in objects):
                findings.append(Finding(CREDENTIALS, "error", release.urn,
                                        "Velero reads its key from a Secret nothing creates (credentials.existingSecret)"))
        else:
            pods = [o for o in objects if o.namespace == "velero" and o.kind in ("Deployment", "DaemonSet")
                    and o.name in ("velero", "node-agent")]
            findings += _identity_findings(plan, "Velero", objects, pods, "velero", "velero")
        repo = [o for o in externals + [o for o in objects if o.kind == "Secret"]
                if o.namespace == "velero" and (o.name == "velero-repo-credentials" or
                                                ((o.obj.get("spec") or {}).get("target") or {}).get("name") == "velero-repo-credentials")]
        has_key = any(any(d.get("secretKey") == "repository-password" for d in ((o.obj.get("spec") or {}).get("data") or []))
                      or "repository-password" in (o.obj.get("stringData") or o.obj.get("data") or {}) for o in repo)
        if not has_key:
            severity = "error" if any(o.kind == "ClusterSecretStore" for o in objects) else "warning"
            findings.append(Finding(CREDENTIALS, severity, release.urn, (
                "Velero's repository password: nothing creates Secret velero/velero-repo-credentials (key "
                "repository-password), so Velero starts with its built-in `static-passw0rd` (Velero "
                "pkg/repository/keys/keys.go): sync a generated password from the secret store")))
        elif not any(o.urn in release.dependencies for o in repo):
            findings.append(Finding(CREDENTIALS, "error", release.urn, (
                "the Velero release does not wait for velero-repo-credentials: Velero would create its default "
                "password first; make the release depend on it")))
    longhorn = next(((r, h) for r, h in plan.helm_releases() if h["chart"] == "longhorn"), None)
    if longhorn is not None:
        release, values = longhorn[0], longhorn[1]["values"] or {}
        store = values.get("defaultBackupStore") or {}
        target, secret = str(store.get("backupTarget") or ""), str(store.get("backupTargetCredentialSecret") or "")
        es = [o for o in externals if o.namespace == "longhorn-system" and o.name == secret] if secret else []
        if target.startswith("azblob://"):
            kind, required = "azure", KEYS["longhorn-azure"]
        elif flavour == "gcs":
            kind, required = "gcs", KEYS["longhorn-s3"]
        elif flavour == "s3-compatible":
            kind, required = "s3-compatible", KEYS["longhorn-s3"]
        else:
            kind, required = "", ()
        if kind:
            if not es:
                findings.append(Finding(CREDENTIALS, "error", release.urn, (
                    f"Longhorn's backup target {target or '(none)'} needs a key ({', '.join(required)}), but no "
                    f"Secret is synced for it (defaultBackupStore.backupTargetCredentialSecret {secret or 'unset'})")))
            else:
                findings += _key_findings(plan, "Longhorn", es[0], kind, required,
                                          operator=_key_source(plan, "longhorn") == "operator")
        elif not secret:
            pods = [o for o in objects if o.namespace == "longhorn-system" and o.kind == "DaemonSet" and o.name == "longhorn-manager"]
            findings += _identity_findings(plan, "Longhorn", objects, pods, "longhorn-service-account", "longhorn-system")
    return findings


def _client_credentials(plan: Plan, objects: list[Any], flavour: str) -> list[Finding]:
    findings: list[Finding] = []
    externals = {(o.namespace, ((o.obj.get("spec") or {}).get("target") or {}).get("name") or o.name): o
                 for o in objects if o.kind == "ExternalSecret"}
    for db in (o for o in objects if o.kind == "PerconaServerMongoDB"):
        backup = (db.obj.get("spec") or {}).get("backup") or {}
        if not backup.get("enabled"):
            continue
        what = f"MongoDB backups of {db.namespace}"
        for storage in (backup.get("storages") or {}).values():
            stype = storage.get("type")
            body = storage.get(stype) or {}
            secret = body.get("credentialsSecret")
            if secret:
                es = externals.get((db.namespace, secret))
                if es is None:
                    findings.append(Finding(CREDENTIALS, "error", db.urn,
                                            f"{what} read Secret {secret}, which nothing creates"))
                    continue
                kind = {"azure": "azure", "gcs": "gcs"}.get(stype, "s3-compatible")
                required = KEYS["pbm-azure"] if stype == "azure" else KEYS["pbm-s3"]
                findings += _key_findings(plan, what, es, kind, required)
            elif stype in ("s3", "gcs"):
                # The backup agent is a sidecar of the mongod pods, which run as the replsets' account.
                accounts = {(r.get("serviceAccountName") or "default") for r in (db.obj.get("spec") or {}).get("replsets") or []}
                for name in sorted(accounts or {"default"}):
                    findings += _identity_findings(plan, what, objects, [], name, db.namespace)
    return findings


# ---------------------------------------------------------------- backup-retention

_GO_DURATION = re.compile(r"([0-9]+)(h|m|s)")


def _hours(duration: str) -> float:
    units = {"h": 1.0, "m": 1 / 60, "s": 1 / 3600}
    return sum(float(n) * units[u] for n, u in _GO_DURATION.findall(str(duration)))


def _lifecycle_rules(plan: Plan) -> list[tuple[str, int, str]]:
    """(object-path prefix, expiry days, urn) of the backup bucket's delete rules (paths as in the bucket;
    Azure: `<container>/<prefix>`)."""
    out: list[tuple[str, int, str]] = []
    p = _platform(plan)
    for r in p.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        for rule in r.inputs.get("rules") or []:
            days = (rule.get("expiration") or {}).get("days")
            if days and rule.get("status", "Enabled") == "Enabled":
                out.append((str((rule.get("filter") or {}).get("prefix") or ""), int(days), r.urn))
    for r in p.of_type("azure-native:storage:ManagementPolicy"):
        for rule in ((r.inputs.get("policy") or {}).get("rules")) or []:
            definition = rule.get("definition") or {}
            days = (((definition.get("actions") or {}).get("baseBlob") or {}).get("delete") or {}).get("daysAfterModificationGreaterThan")
            for prefix in ((definition.get("filters") or {}).get("prefixMatch")) or []:
                if days:
                    out.append((str(prefix), int(days), r.urn))
    for r in p.of_type("gcp:storage/bucket:Bucket"):
        for rule in r.inputs.get("lifecycleRules") or []:
            if (rule.get("action") or {}).get("type") != "Delete":
                continue
            cond = rule.get("condition") or {}
            if cond.get("age"):
                for prefix in cond.get("matchesPrefixes") or [""]:
                    out.append((str(prefix), int(cond["age"]), r.urn))
    return out


def check_retention(plan: Plan) -> list[Finding]:
    rules = _lifecycle_rules(plan)
    if not rules:
        return []
    locations: dict[str, str] = {}
    for o in _objects(_platform(plan)):
        if o.kind == "BackupStorageLocation":
            storage = (o.obj.get("spec") or {}).get("objectStorage") or {}
            prefix = str(storage.get("prefix") or "")
            if (o.obj.get("spec") or {}).get("provider", "").endswith("azure"):
                prefix = f"{storage.get('bucket')}/{prefix}"
            locations[o.name] = prefix.rstrip("/") + "/"
    findings: list[Finding] = []
    for o in _objects(plan):
        if o.kind != "Schedule":
            continue
        template = (o.obj.get("spec") or {}).get("template") or {}
        location = str(template.get("storageLocation") or "default")
        path = locations.get(location)
        ttl = template.get("ttl")
        if path is None or not ttl:
            continue
        limits = [(days, urn, prefix) for prefix, days, urn in rules if path.startswith(prefix)]
        if not limits:
            continue
        days, urn, prefix = min(limits)
        if _hours(ttl) > days * 24:
            findings.append(Finding(RETENTION, "error", o.urn, (
                f"Schedule {o.name} keeps backups {ttl} in location {location} ({path}), but the bucket lifecycle "
                f"deletes `{prefix}` objects after {days} days: restores of older backups would find their data "
                f"gone. Lower its ttl to at most {days * 24}h or raise the lifecycle (lfh:platform.cluster.backup)")))
    return findings

