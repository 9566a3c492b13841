"""Velero schedules for the client namespace and the weekly restore drill.

Schedules are derived from the client stack itself, so no schedule outlives its namespace (LESSONS.md).

The drill runs in the platform's **velero namespace**, not the client's: Restores must be created
there anyway (its Role stays local), the drill isn't cut off by the client's default-deny policies or
quota, it survives the loss of the client namespace it is meant to prove restorable, and it isn't
itself part of the backup it restores (which would start a second drill inside the throwaway copy).
Image: `registry.k8s.io/kubectl` — published by Kubernetes release engineering with every release,
pinned per patch, and it ships bash and jq (kubernetes#119592); the Bitnami kubectl image is no
longer published for free.

The drill proves the data, not only readiness: it runs the backup canary's pod (components/client/
canary.py) inside the restored copy, reads back the newest canary document and its object, and records
the achieved RPO (age of that canary) and RTO (restore start to data read back). When the last passed
point-in-time restore is older than `pitrDrillDays`, it also restores the copy's MongoDB to a point in
time from the environment's own Percona backups and checks the newest canary is not after that point.
Its rights inside the copy come from a RoleBinding the client namespace carries bound to an empty
ClusterRole: the restore's resource modifiers point the copy's binding at the drill's copy role, so
the drill can run Jobs and restores in the copy and nowhere else.
"""
from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
import yaml
import pulumi_kubernetes as k8s

from lfh.config import names

from ..k8s import KubeObject, child_opts, labels, meta
from .canary import BackupCanary
from .contract import TO_KUBE_API, ClientContext, Workload
from .network import isolated_policy, settings_for
from .webservice import container_security_context, pod_security_context

VELERO_SCHEDULE_LABEL = "velero.io/schedule-name"
#: The PerconaServerMongoDB object and its backup storage (components/client/mongodb.py).
MONGODB_CLUSTER = "mongodb"
MONGODB_STORAGE = "platform"
#: Objects the drill does not restore: they would publish the copy (routes, certificates), talk to the
#: secret manager with the client's identity, or scrape/autoscale a throwaway.
DRILL_EXCLUDED = [
    "httproutes.gateway.networking.k8s.io",
    "referencegrants.gateway.networking.k8s.io",
    "certificates.cert-manager.io",
    "certificaterequests.cert-manager.io",
    "orders.acme.cert-manager.io",
    "challenges.acme.cert-manager.io",
    "externalsecrets.external-secrets.io",
    "secretstores.external-secrets.io",
    "servicemonitors.monitoring.coreos.com",
    "horizontalpodautoscalers.autoscaling",
    "jobs.batch",
    "cronjobs.batch",
    # Backup/restore requests of the database operator would run again inside the copy.
    "perconaservermongodbbackups.psmdb.percona.com",
    "perconaservermongodbrestores.psmdb.percona.com",
]

def base_modifiers(copy_role: str) -> str:
    """Velero resource modifiers applied while restoring the copy (values are raw JSON; Velero quotes
    anything that is not a number, boolean, null, object or array: internal/resourcemodifiers/json_patch.go):

    - the copy's MongoDB starts without backup agents, no oplog slicing and no scheduled backups: it
      must never write into the live environment's backup prefix (the drill turns the agents on only
      after switching slicing off in the copy's own PBM configuration, for the point-in-time restore);
    - app and worker Deployments start at 0 replicas: their restored Secrets point at the original
      namespace's services (NetworkPolicies block that anyway), and the drill proves the *data* comes back;
    - the copy's `restore-drill-copy` RoleBinding points at ``copy_role`` (Velero v1.18 docs,
      restore-resource-modifiers.md: JSON patches on matching resources before they are created).
    """
    return f"""version: v1
resourceModifierRules:
- conditions:
    groupResource: perconaservermongodbs.psmdb.percona.com
  patches:
  - operation: replace
    path: /spec/backup/enabled
    value: "false"
  - operation: add
    path: /spec/backup/pitr
    value: '{{"enabled": false}}'
  - operation: add
    path: /spec/backup/tasks
    value: "[]"
- conditions:
    groupResource: deployments.apps
    labelSelector:
      matchLabels:
        app.kubernetes.io/component: app
  patches:
  - operation: replace
    path: /spec/replicas
    value: "0"
- conditions:
    groupResource: deployments.apps
    labelSelector:
      matchLabels:
        app.kubernetes.io/component: worker
  patches:
  - operation: replace
    path: /spec/replicas
    value: "0"
- conditions:
    groupResource: rolebindings.rbac.authorization.k8s.io
    resourceNameRegex: "^{COPY_BINDING}$"
  patches:
  - operation: replace
    path: /roleRef/name
    value: '"{copy_role}"'
"""
#: CPU the copy's single mongod / Typesense node requests: it only has to start and answer, and it
#: must fit next to production on the platform's nodes (the scheduling check places it there).
DRILL_MONGOD_CPU = "250m"
DRILL_TYPESENSE_CPU = "100m"


def drill_modifiers(ctx: ClientContext, copy_role: str) -> str:
    """`base_modifiers` plus the rules that shrink the copy to one member of each data service.

    The copy proves the data restores; a replica set or Raft quorum of it would double the db pool
    every week. MongoDB: one member (the operator's `unsafeFlags.replsetSize`), no anti-affinity.
    Typesense: one node whose peer list names its own pod by the namespace-relative name (the
    restored list names the original namespace's pods, which the copy must never join).
    """
    doc = yaml.safe_load(base_modifiers(copy_role))
    rules = doc["resourceModifierRules"]
    mongodb = rules[0]["patches"]
    if ctx.config.mongodb.members > 1:
        mongodb += [{"operation": "replace", "path": "/spec/replsets/0/size", "value": "1"},
                    {"operation": "add", "path": "/spec/unsafeFlags", "value": json.dumps({"replsetSize": True})},
                    {"operation": "replace", "path": "/spec/replsets/0/affinity/antiAffinityTopologyKey", "value": "none"}]
    mongodb.append({"operation": "replace", "path": "/spec/replsets/0/resources/requests/cpu", "value": DRILL_MONGOD_CPU})
    search = ctx.config.search
    if search.enabled:
        from .search import NAME, NODES_CONFIG, local_nodes_line

        patches = [{"operation": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu",
                    "value": DRILL_TYPESENSE_CPU}]
        if search.replicas > 1:
            patches.insert(0, {"operation": "replace", "path": "/spec/replicas", "value": "1"})
        rules.append({"conditions": {"groupResource": "statefulsets.apps", "resourceNameRegex": f"^{NAME}$"},
                      "patches": patches})
        rules.append({"conditions": {"groupResource": "configmaps", "resourceNameRegex": f"^{NODES_CONFIG}$"},
                      "patches": [{"operation": "replace", "path": "/data/nodes", "value": local_nodes_line(1)}]})
    return yaml.safe_dump(doc, sort_keys=False)



#: The RoleBinding the client namespace carries for the drill (empty role there, copy role in the copy).
COPY_BINDING = "restore-drill-copy"


DRILL_SCRIPT = r"""#!/bin/bash
# Restore drill: newest completed daily backup -> throwaway namespace -> read the canaries back from the
# copy -> (when due) point-in-time restore of MongoDB from its own backups -> record -> delete.
set -uo pipefail
start=$(date +%s)
restore=""; result="failed"; detail=""; backup=""
rpo=""; rto=""; canary=""; object_ok=""
pitr_run=""; pitr_result=""; pitr_target=""; pitr_rpo=""; pitr_passed=""
now_iso() { date -u +%Y-%m-%dT%H:%M:%SZ; }
iso_epoch() { jq -rn --arg t "$1" '$t | sub("\\.[0-9]+"; "") | fromdateiso8601'; }
record() {
  local end duration
  end=$(date +%s); duration=$((end - start))
  kubectl -n "$VELERO_NS" patch configmap "$RESULT_CM" --type merge -p "$(jq -cn \
    --arg r "$result" --arg d "$detail" --arg b "$backup" --arg n "$restore" --arg t "$(now_iso)" \
    --arg s "$duration" --arg rpo "$rpo" --arg rto "$rto" --arg c "$canary" --arg o "$object_ok" \
    --arg prun "$pitr_run" --arg pr "$pitr_result" --arg pt "$pitr_target" --arg prpo "$pitr_rpo" \
    --arg pok "$pitr_passed" --arg cv "$COVERS" --arg nc "$NOT_COVERED" '
    {metadata: {annotations: ({"lfh.io/drill-result": $r, "lfh.io/drill-rpo-seconds": $rpo,
                               "lfh.io/drill-rto-seconds": $rto}
                              + (if $prun != "" then {"lfh.io/drill-pitr-result": $pr} else {} end))},
     data: ({lastResult: $r, lastDetail: $d, lastBackup: $b, lastRestore: $n, lastRun: $t,
             lastDurationSeconds: $s, lastRpoSeconds: $rpo, lastRtoSeconds: $rto, lastCanary: $c,
             lastObjectCanary: $o, covers: $cv, notCovered: $nc}
            + (if $prun != "" then {lastPitrRun: $prun, lastPitrResult: $pr, lastPitrTarget: $pt,
                                    lastPitrRpoSeconds: $prpo} else {} end)
            + (if $pok != "" then {lastPitrPassed: $pok} else {} end))}')" || true
  jq -cn --arg r "$result" --arg d "$detail" --arg ns "$SOURCE_NS" --arg s "$duration" --arg rpo "$rpo" \
    --arg rto "$rto" --arg pr "$pitr_result" \
    '{event: "restore-drill", namespace: $ns, result: $r, durationSeconds: ($s|tonumber),
      rpoSeconds: (if $rpo == "" then null else ($rpo|tonumber) end),
      rtoSeconds: (if $rto == "" then null else ($rto|tonumber) end),
      pitr: (if $pr == "" then null else $pr end), detail: $d}'
  kubectl delete namespace "$DRILL_NS" --ignore-not-found --wait=false >/dev/null || true
}
trap record EXIT
fail() { detail="$1"; exit 1; }
deadline=$((start + TIMEOUT_SECONDS))

mongodb_ready() {
  while :; do
    states=$(kubectl -n "$DRILL_NS" get perconaservermongodbs.psmdb.percona.com -o json 2>/dev/null \
      | jq -r '[.items[].status.state // "unknown"] | join(",")')
    if [ -z "$states" ]; then return 0; fi
    if [ -z "$(echo "$states" | tr ',' '\n' | grep -v '^ready$')" ]; then return 0; fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "MongoDB of the restored copy not ready (states: $states)"
    sleep 15
  done
}

# run_job MODE NAME: the canary pod as a Job in the copy; prints its result line.
run_job() {
  local mode="$1" job="$2" status
  jq --arg ns "$DRILL_NS" --arg name "$job" '.metadata.namespace = $ns | .metadata.name = $name' \
    "$JOBS_DIR/$mode.json" | kubectl create -f - >/dev/null || return 1
  while :; do
    status=$(kubectl -n "$DRILL_NS" get job "$job" -o json \
      | jq -r 'if (.status.succeeded // 0) > 0 then "done" elif (.status.failed // 0) > 0 then "failed" else "" end')
    case "$status" in done) break ;; failed) return 1 ;; esac
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 10
  done
  kubectl -n "$DRILL_NS" logs "job/$job" -c objects | tail -n 1
}

pitr_due() {
  local last
  last=$(kubectl -n "$VELERO_NS" get configmap "$RESULT_CM" -o json | jq -r '.data.lastPitrPassed // empty')
  [ -z "$last" ] && return 0
  [ $(( $(date +%s) - $(iso_epoch "$last") )) -ge $(( PITR_DAYS * 86400 )) ]
}

backup=$(kubectl -n "$VELERO_NS" get backups.velero.io -l "velero.io/schedule-name=$SCHEDULE" -o json \
  | jq -r '[.items[] | select(.status.phase == "Completed")] | sort_by(.status.completionTimestamp) | last | .metadata.name // empty')
[ -n "$backup" ] || fail "no completed backup of schedule $SCHEDULE"

if kubectl get namespace "$DRILL_NS" >/dev/null 2>&1; then
  fail "namespace $DRILL_NS exists (a previous drill did not clean up)"
fi

restore="$SOURCE_NS-drill-$(date -u +%Y%m%d%H%M)"
restore_start=$(date +%s)
jq -n --arg name "$restore" --arg ns "$VELERO_NS" --arg b "$backup" --arg src "$SOURCE_NS" --arg dst "$DRILL_NS" \
  --arg modifiers "$MODIFIERS_CM" --argjson excluded "$EXCLUDED_RESOURCES" '{
    apiVersion: "velero.io/v1", kind: "Restore",
    metadata: {name: $name, namespace: $ns, labels: {"lfh.io/restore-drill": $src}},
    spec: {backupName: $b, includedNamespaces: [$src], namespaceMapping: {($src): $dst},
           excludedResources: $excluded, restorePVs: true,
           resourceModifier: {kind: "ConfigMap", name: $modifiers}}}' \
  | kubectl create -f - || fail "cannot create Restore"

while :; do
  phase=$(kubectl -n "$VELERO_NS" get restores.velero.io "$restore" -o jsonpath='{.status.phase}')
  case "$phase" in
    Completed) break ;;
    Failed|FailedValidation|PartiallyFailed) fail "restore $restore ended $phase" ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || fail "restore $restore not complete in time (phase ${phase:-none})"
  sleep 15
done

left=$((deadline - $(date +%s)))
kubectl -n "$DRILL_NS" wait --for=condition=Ready pods --all --timeout="${left}s" \
  || fail "pods of the restored copy did not become ready"
# MongoDB answers: the operator reports `ready` only after it has connected to every member.
# (An external database is not in the backup: nothing of it to check here — see NOT_COVERED.)
if [ "$MONGODB_IN_CLUSTER" = "true" ]; then mongodb_ready; fi

if [ "$CANARY" = "true" ]; then
  out=$(run_job verify restore-drill-verify) \
    || fail "canary check failed in the copy (kubectl -n $DRILL_NS logs job/restore-drill-verify --all-containers)"
  canary=$(echo "$out" | jq -r '.mongoNewest // empty')
  object_ok=$(echo "$out" | jq -r '.objectOk // false')
  [ -n "$canary" ] || fail "no canary document in the restored copy"
  verified=$(date +%s)
  rpo=$((verified - $(iso_epoch "$canary"))); rto=$((verified - restore_start))
  [ "$object_ok" = "true" ] || fail "canary object $canary.json not readable from the copy's object store"
else
  rto=$(( $(date +%s) - restore_start ))
fi

if [ "$CANARY" = "true" ] && pitr_due; then
  pitr_run=$(now_iso); pitr_result="failed"
  src=$(kubectl -n "$SOURCE_NS" get perconaservermongodbbackups.psmdb.percona.com -o json \
    | jq -c '[.items[] | select(.status.state == "ready" and .status.latestRestorableTime != null)] | sort_by(.status.completed) | last // empty')
  [ -n "$src" ] || fail "point-in-time restore: no ready MongoDB backup with a restorable time in $SOURCE_NS"
  destination=$(echo "$src" | jq -r '.status.destination')
  target=$(( $(iso_epoch "$(echo "$src" | jq -r '.status.latestRestorableTime')") - 60 ))
  pitr_target=$(jq -rn --argjson e "$target" '$e | strftime("%Y-%m-%d %H:%M:%S")')
  run_job pbm-off restore-drill-pbm-off >/dev/null \
    || fail "point-in-time restore: could not turn oplog slicing off in the copy"
  kubectl -n "$DRILL_NS" patch perconaservermongodbs.psmdb.percona.com "$MONGO_CLUSTER" --type merge \
    -p '{"spec":{"backup":{"enabled":true}}}' >/dev/null || fail "point-in-time restore: cannot start the copy's backup agents"
  sleep 15
  mongodb_ready
  jq -n --arg ns "$DRILL_NS" --arg c "$MONGO_CLUSTER" --arg s "$STORAGE_NAME" --arg d "$destination" --arg t "$pitr_target" '{
      apiVersion: "psmdb.percona.com/v1", kind: "PerconaServerMongoDBRestore",
      metadata: {name: "restore-drill-pitr", namespace: $ns},
      spec: {clusterName: $c, storageName: $s, backupSource: {type: "logical", destination: $d},
             pitr: {type: "date", date: $t}}}' \
    | kubectl create -f - >/dev/null || fail "point-in-time restore: cannot create the restore"
  while :; do
    state=$(kubectl -n "$DRILL_NS" get perconaservermongodbrestores.psmdb.percona.com restore-drill-pitr -o jsonpath='{.status.state}')
    case "$state" in
      ready) break ;;
      error|rejected) fail "point-in-time restore to $pitr_target ended $state" ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || fail "point-in-time restore to $pitr_target not done in time (state ${state:-none})"
    sleep 15
  done
  out=$(run_job verify restore-drill-verify-pitr) || fail "canary check after the point-in-time restore failed"
  newest=$(echo "$out" | jq -r '.mongoNewest // empty')
  [ -n "$newest" ] || fail "no canary document after the point-in-time restore"
  newest_epoch=$(iso_epoch "$newest")
  [ "$newest_epoch" -le "$target" ] || fail "point-in-time restore to $pitr_target holds canary $newest, written after it"
  pitr_rpo=$((target - newest_epoch)); pitr_result="passed"; pitr_passed=$pitr_run
fi

result="passed"
detail="restored $backup into $DRILL_NS; pods ready; databases ready"
if [ -n "$canary" ]; then detail="$detail; canary $canary read back (RPO ${rpo}s, RTO ${rto}s)"; fi
if [ -n "$pitr_result" ]; then
  detail="$detail; point-in-time restore to $pitr_target passed (canary ${pitr_rpo}s before it)"
fi
detail="$detail; not covered: $NOT_COVERED"
exit 0
"""


def backup_coverage(ctx: ClientContext, services: dict[str, Any]) -> dict[str, list[str]]:
    """What this stack's backups (and so the restore drill) cover and what they don't, from what runs here.

    ``services`` are the data services by name (components/client/__init__.py)."""
    cfg = ctx.config
    covers: list[str] = []
    not_covered: list[str] = []
    if cfg.backups.enabled:
        covers.append("Kubernetes objects of the namespace (Velero: hourly snapshots, daily and weekly copies in the backup bucket)")
    else:
        not_covered.append("the namespace: `backups.enabled` is false (no Velero schedules, no drill)")
    if cfg.mongodb.external is not None:
        not_covered.append(f"MongoDB data: the external database ({', '.join(cfg.mongodb.external.hosts)}) is backed up, "
                           "recovered to a point in time and restored by its provider; the drill does not restore it")
    else:
        if cfg.backups.enabled:
            covers.append("MongoDB volumes (Velero snapshots; the drill restores them and checks the replica set)")
        if getattr(services.get("mongodb"), "backups_to_bucket", False):
            covers.append("MongoDB logical backups with point-in-time recovery (Percona Backup for MongoDB, platform bucket)")
        else:
            not_covered.append("MongoDB point-in-time recovery: the platform names no backup bucket")
    if getattr(services.get("objectStorage"), "mode", None) == "cloud":
        not_covered.append("HapiHub files in the cloud bucket: not in Velero; replaced or deleted objects are kept "
                           f"{cfg.object_storage.cloud.noncurrent_version_days} days as versions")
    elif cfg.backups.enabled:
        covers.append("MinIO volumes (HapiHub files)")
    if cfg.search.enabled and cfg.backups.enabled:
        covers.append("Typesense volumes (the index can also be rebuilt from MongoDB)")
    not_covered.append("secret values: they stay in the secret manager (its own versioning); the drill leaves them out")
    return {"covers": covers, "notCovered": not_covered}


class Backups(pulumi.ComponentResource):
    """Hourly/daily/weekly Velero Schedules for the namespace, plus the weekly restore drill.

    ``coverage`` (`backup_coverage`) is stated on each Schedule (annotations), in the drill's result
    ConfigMap and log line, and in the stack outputs (`backupCoverage`)."""

    def __init__(self, name: str, ctx: ClientContext, *, canary: Optional[BackupCanary] = None,
                 opts: pulumi.ResourceOptions | None = None, coverage: dict[str, list[str]] | None = None):
        super().__init__("lfh:client:Backups", name, None, opts)
        self.canary = canary
        self.coverage = coverage or {"covers": [], "notCovered": []}
        stated = {"lfh.io/backup-covers": "; ".join(self.coverage["covers"]),
                  "lfh.io/backup-does-not-cover": "; ".join(self.coverage["notCovered"])}
        cfg = ctx.config.backups
        b = ctx.platform.backups or {}
        velero_ns = b.get("namespace") or "velero"
        locations = b.get("locations") or {}
        default_loc = locations.get("default") or "default"
        archive_loc = locations.get("archive") or "archive"
        ns = ctx.namespace
        deps = [ctx.namespace_resource]
        self.schedules: dict[str, str] = {}
        hourly: dict[str, Any] = {"snapshotVolumes": True}
        moved: dict[str, Any] = {"snapshotVolumes": True, "snapshotMoveData": True}
        if (b.get("volumeBackup") or {}).get("mode") == "fs":
            # The platform's cluster takes no CSI snapshots (components/platform/snapshots.py): Velero's
            # node agent copies the volumes' files into the bucket instead (file-system backup, kopia).
            hourly = moved = {"snapshotVolumes": False, "defaultVolumesToFsBackup": True}
        plans = [
            # Rollback points for the last three days: volume snapshots, kept on the cluster's storage.
            ("hourly", cfg.hourly_schedule, cfg.hourly_ttl, default_loc, hourly),
            # Daily: snapshot data moved into the backup bucket, so it survives the cluster.
            ("daily", cfg.daily_schedule, cfg.daily_ttl, default_loc, moved),
            # Weekly to the archive location (immediately readable tier, within the 4 h RTO).
            ("weekly", cfg.weekly_schedule, cfg.weekly_ttl, archive_loc, moved),
        ]
        if cfg.enabled:
            for kind, cron, ttl, location, extra in plans:
                sched = names.velero_schedule(ns, kind)
                self.schedules[kind] = sched
                k8s.apiextensions.CustomResource(
                    f"{name}-{kind}",
                    api_version="velero.io/v1",
                    kind="Schedule",
                    metadata=meta(sched, velero_ns, labels={**ctx.labels, "lfh.io/backup": kind}, annotations=stated),
                    spec={
                        "schedule": cron,
                        "useOwnerReferencesInBackup": False,   # backups outlive a deleted schedule
                        "template": {
                            "includedNamespaces": [ns],
                            "includeClusterResources": False,
                            "storageLocation": location,
                            "ttl": ttl,
                            "defaultVolumesToFsBackup": False,
                            "metadata": {"labels": {**ctx.labels, "lfh.io/backup": kind}},
                            **extra,  # (may turn file-system backup on)
                        },
                    },
                    opts=child_opts(self, ctx.provider, depends_on=deps),
                )
        if cfg.enabled and cfg.restore_drill:
            self._drill(name, ctx, velero_ns)
        self.register_outputs({"schedules": self.schedules})

    def _drill(self, name: str, ctx: ClientContext, velero_ns: str) -> None:
        ns = ctx.namespace
        cfg = ctx.config.backups
        # The loader refuses a client name that makes either of these invalid (lfh/config/names.py).
        drill = names.drill_name(ns)
        drill_ns = names.drill_namespace(ns)
        lbl = labels(drill, client=ctx.config.name, environment=ctx.environment, component="restore-drill")
        deps = [ctx.namespace_resource]
        o = lambda depends_on=None, **kw: child_opts(self, ctx.provider, depends_on=depends_on or deps, **kw)  # noqa: E731

        sa = KubeObject(f"{name}-drill-sa", "v1", "ServiceAccount", metadata=meta(drill, velero_ns, labels=lbl),
                                        automountServiceAccountToken=False, opts=o())
        subject = [{"kind": "ServiceAccount", "name": drill, "namespace": velero_ns}]
        # In the velero namespace: read backups, create/read restores, write only its own result ConfigMap.
        role = KubeObject(f"{name}-drill-role", "rbac.authorization.k8s.io/v1", "Role", metadata=meta(drill, velero_ns, labels=lbl), rules=[
            {"apiGroups": ["velero.io"], "resources": ["backups"], "verbs": ["get", "list"]},
            {"apiGroups": ["velero.io"], "resources": ["restores"], "verbs": ["create", "get", "list"]},
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [drill], "verbs": ["get", "patch"]},
        ], opts=o())
        KubeObject(f"{name}-drill-rolebinding", "rbac.authorization.k8s.io/v1", "RoleBinding", metadata=meta(drill, velero_ns, labels=lbl),
                                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": drill},
                                subjects=subject, opts=o(depends_on=[*deps, role]))
        # Cluster scope: only its own throwaway namespace, by name.
        cluster_role = KubeObject(f"{name}-drill-clusterrole", "rbac.authorization.k8s.io/v1", "ClusterRole", metadata=meta(drill, labels=lbl), rules=[
            {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": [drill_ns], "verbs": ["get", "delete"]},
        ], opts=o())
        KubeObject(f"{name}-drill-clusterrolebinding", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", metadata=meta(drill, labels=lbl),
                                       roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": drill},
                                       subjects=subject, opts=o(depends_on=[*deps, cluster_role]))
        # Read-only view of pods and databases, bound inside the client namespace. The binding is part
        # of the backup, so the restored copy carries it into the throwaway namespace: the drill can
        # check the copy without any right to create bindings itself.
        reader = f"{drill}-reader"
        reader_role = KubeObject(f"{name}-drill-reader", "rbac.authorization.k8s.io/v1", "ClusterRole", metadata=meta(reader, labels=lbl), rules=[
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            # The databases, and their backups' status (the point-in-time restore starts from the newest).
            {"apiGroups": ["psmdb.percona.com"], "resources": ["perconaservermongodbs", "perconaservermongodbbackups"],
             "verbs": ["get", "list"]},
        ], opts=o())
        KubeObject(f"{name}-drill-reader-binding", "rbac.authorization.k8s.io/v1", "RoleBinding", metadata=meta(reader, ns, labels=lbl),
                                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
                                subjects=subject, opts=o(depends_on=[*deps, reader_role]))
        # What the drill may do in the copy: run the canary Jobs, read their logs, start the copy's backup
        # agents and restore MongoDB to a point in time. The client namespace binds an empty role under
        # the same binding name; only the restore's modifier points the *copy's* binding here.
        copy_role = f"{drill}-copy"
        none_role = f"{drill}-none"
        copy_rules = [
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "delete"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
            {"apiGroups": ["psmdb.percona.com"], "resources": ["perconaservermongodbs"], "verbs": ["patch"]},
            {"apiGroups": ["psmdb.percona.com"], "resources": ["perconaservermongodbrestores"], "verbs": ["create", "get"]},
        ]
        roles = [KubeObject(f"{name}-drill-{suffix}", "rbac.authorization.k8s.io/v1", "ClusterRole",
                            metadata=meta(role_name, labels=lbl), rules=rules, opts=o())
                 for suffix, role_name, rules in (("copy", copy_role, copy_rules), ("none", none_role, []))]
        KubeObject(f"{name}-drill-copy-binding", "rbac.authorization.k8s.io/v1", "RoleBinding",
                   metadata=meta(COPY_BINDING, ns, labels=lbl),
                   roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": none_role},
                   subjects=subject, opts=o(depends_on=[*deps, *roles]))

        # Where the drill records its last result (the drill patches `data`; Pulumi leaves it alone).
        KubeObject(f"{name}-drill-result", "v1", "ConfigMap", metadata=meta(drill, velero_ns, labels=lbl),
                              data={"lastResult": "never-run", "covers": "; ".join(self.coverage["covers"]),
                                    "notCovered": "; ".join(self.coverage["notCovered"])},
                              opts=o(ignore_changes=["data"]))
        KubeObject(f"{name}-drill-modifiers", "v1", "ConfigMap", metadata=meta(f"{drill}-modifiers", velero_ns, labels=lbl),
                              data={"modifiers.yaml": drill_modifiers(ctx, copy_role)}, opts=o())
        script = KubeObject(f"{name}-drill-script", "v1", "ConfigMap", metadata=meta(f"{drill}-script", velero_ns, labels=lbl),
                                       data={"drill.sh": DRILL_SCRIPT}, opts=o())
        # The canary pod as Jobs the drill runs in the copy (same pod, same labels as in the namespace).
        jobs = KubeObject(f"{name}-drill-jobs", "v1", "ConfigMap", metadata=meta(f"{drill}-jobs", velero_ns, labels=lbl),
                          data={mode: self.canary.verify_job(mode) for mode in ("verify", "pbm-off")} if self.canary else {},
                          opts=o())
        env = {
            "SOURCE_NS": ns, "DRILL_NS": drill_ns, "VELERO_NS": velero_ns, "RESULT_CM": drill,
            "SCHEDULE": self.schedules.get("daily", f"{ns}-daily"), "TIMEOUT_SECONDS": str(cfg.drill_timeout_seconds),
            "EXCLUDED_RESOURCES": json.dumps(DRILL_EXCLUDED), "HOME": "/tmp",
            "MODIFIERS_CM": f"{drill}-modifiers", "JOBS_DIR": "/jobs", "CANARY": "true" if self.canary else "false",
            "PITR_DAYS": str(cfg.pitr_drill_days), "MONGO_CLUSTER": MONGODB_CLUSTER, "STORAGE_NAME": MONGODB_STORAGE,
            "MONGODB_IN_CLUSTER": "false" if ctx.config.mongodb.external else "true",
            "COVERS": "; ".join(self.coverage["covers"]), "NOT_COVERED": "; ".join(self.coverage["notCovered"]),
        }
        pod_labels = {**lbl, "app.kubernetes.io/instance": drill}
        # The drill pod talks to the Kubernetes API and DNS, nothing else, and accepts no connections.
        drill_workload = Workload(name=drill, pod_labels={"app.kubernetes.io/name": drill,
                                                          "app.kubernetes.io/instance": drill},
                                  egress_to=[TO_KUBE_API])
        KubeObject(
            f"{name}-drill-netpol", "networking.k8s.io/v1", "NetworkPolicy",
            metadata=meta(drill, velero_ns, labels=lbl),
            spec=isolated_policy(drill_workload, settings_for(ctx)),
            opts=o(),
        )
        self.drill = KubeObject(
            f"{name}-drill", "batch/v1", "CronJob",
            metadata=meta(drill, velero_ns, labels=lbl),
            spec={
                "schedule": cfg.drill_schedule,
                "concurrencyPolicy": "Forbid",          # never two drills on one throwaway namespace
                "startingDeadlineSeconds": 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {
                    "backoffLimit": 0,                  # a failed drill is a result, not something to retry
                    "activeDeadlineSeconds": cfg.drill_timeout_seconds + 600,
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": {
                            "serviceAccountName": drill,
                            "automountServiceAccountToken": True,   # it talks to the API: that's its job
                            "restartPolicy": "Never",
                            "securityContext": pod_security_context(65532, 65532, 65532),
                            "containers": [{
                                "name": "drill",
                                "image": cfg.drill_image,
                                "imagePullPolicy": "IfNotPresent",
                                "command": ["/bin/bash", "/drill/drill.sh"],
                                "env": [{"name": k, "value": v} for k, v in env.items()],
                                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                              "limits": {"cpu": "500m", "memory": "256Mi"}},
                                "securityContext": container_security_context(True),
                                "volumeMounts": [{"name": "script", "mountPath": "/drill", "readOnly": True},
                                                 {"name": "jobs", "mountPath": "/jobs", "readOnly": True},
                                                 {"name": "tmp", "mountPath": "/tmp"}],
                            }],
                            "volumes": [
                                {"name": "script", "configMap": {"name": f"{drill}-script", "defaultMode": 0o555}},
                                {"name": "jobs", "configMap": {"name": f"{drill}-jobs"}},
                                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                            ],
                        },
                    },
                }},
            },
            opts=o(depends_on=[*deps, sa, script, jobs]),
        )
