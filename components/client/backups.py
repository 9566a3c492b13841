"""Velero schedules for the client namespace and the weekly restore drill.

Schedules are derived from the client stack itself, so no schedule outlives its namespace (LESSONS.md).

The drill runs in the platform's **velero namespace**, not the client's: Restores must be created
there anyway (its Role stays local), the drill isn't cut off by the client's default-deny policies or
quota, it survives the loss of the client namespace it is meant to prove restorable, and it isn't
itself part of the backup it restores (which would start a second drill inside the throwaway copy).
Image: `registry.k8s.io/kubectl` — published by Kubernetes release engineering with every release,
pinned per patch, and it ships bash and jq (kubernetes#119592); the Bitnami kubectl image is no
longer published for free.
"""
from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from lfh.names import fit

from ..k8s import KubeObject, child_opts, labels, meta
from .contract import TO_KUBE_API, ClientContext, Workload
from .network import isolated_policy, settings_for
from .webservice import container_security_context, pod_security_context

VELERO_SCHEDULE_LABEL = "velero.io/schedule-name"
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

#: Velero resource modifiers applied while restoring the copy (values are raw JSON):
#: - the copy's MongoDB must not write backups or oplog slices into the client's backup location;
#: - app Deployments start at 0 replicas: their restored Secrets point at the original namespace's
#:   services (NetworkPolicies block that anyway), and the drill proves the *data* comes back.
DRILL_MODIFIERS = """version: v1
resourceModifierRules:
- conditions:
    groupResource: perconaservermongodbs.psmdb.percona.com
  patches:
  - operation: replace
    path: /spec/backup/enabled
    value: "false"
- conditions:
    groupResource: deployments.apps
    labelSelector:
      matchLabels:
        app.kubernetes.io/component: app
  patches:
  - operation: replace
    path: /spec/replicas
    value: "0"
"""

DRILL_SCRIPT = r"""#!/bin/bash
# Restore drill: newest completed daily backup -> throwaway namespace -> checks -> record -> delete.
set -uo pipefail
start=$(date +%s)
restore=""
result="failed"
detail=""
record() {
  local end duration
  end=$(date +%s); duration=$((end - start))
  kubectl -n "$VELERO_NS" patch configmap "$RESULT_CM" --type merge -p "$(jq -cn \
    --arg r "$result" --arg d "$detail" --arg b "${backup:-}" --arg n "$restore" \
    --arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg s "$duration" \
    '{data: {lastResult: $r, lastDetail: $d, lastBackup: $b, lastRestore: $n, lastRun: $t, lastDurationSeconds: $s}}')" || true
  jq -cn --arg r "$result" --arg d "$detail" --arg ns "$SOURCE_NS" --arg s "$duration" \
    '{event: "restore-drill", namespace: $ns, result: $r, durationSeconds: ($s|tonumber), detail: $d}'
  kubectl delete namespace "$DRILL_NS" --ignore-not-found --wait=false >/dev/null || true
}
trap record EXIT
fail() { detail="$1"; exit 1; }
deadline=$((start + TIMEOUT_SECONDS))

backup=$(kubectl -n "$VELERO_NS" get backups.velero.io -l "velero.io/schedule-name=$SCHEDULE" -o json \
  | jq -r '[.items[] | select(.status.phase == "Completed")] | sort_by(.status.completionTimestamp) | last | .metadata.name // empty')
[ -n "$backup" ] || fail "no completed backup of schedule $SCHEDULE"

if kubectl get namespace "$DRILL_NS" >/dev/null 2>&1; then
  fail "namespace $DRILL_NS exists (a previous drill did not clean up)"
fi

restore="$SOURCE_NS-drill-$(date -u +%Y%m%d%H%M)"
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
while :; do
  states=$(kubectl -n "$DRILL_NS" get perconaservermongodbs.psmdb.percona.com -o json 2>/dev/null \
    | jq -r '[.items[].status.state // "unknown"] | join(",")')
  if [ -z "$states" ]; then break; fi
  if [ -z "$(echo "$states" | tr ',' '\n' | grep -v '^ready$')" ]; then break; fi
  [ "$(date +%s)" -lt "$deadline" ] || fail "MongoDB of the restored copy not ready (states: $states)"
  sleep 15
done

result="passed"
detail="restored $backup into $DRILL_NS; pods ready; databases ready"
"""


class Backups(pulumi.ComponentResource):
    """Hourly/daily/weekly Velero Schedules for the namespace, plus the weekly restore drill."""

    def __init__(self, name: str, ctx: ClientContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:Backups", name, None, opts)
        cfg = ctx.config.backups
        b = ctx.platform.backups or {}
        velero_ns = b.get("namespace") or "velero"
        locations = b.get("locations") or {}
        default_loc = locations.get("default") or "default"
        archive_loc = locations.get("archive") or "archive"
        ns = ctx.namespace
        deps = [ctx.namespace_resource]
        self.schedules: dict[str, str] = {}
        plans = [
            # Rollback points for the last three days: volume snapshots, kept on the cluster's storage.
            ("hourly", cfg.hourly_schedule, cfg.hourly_ttl, default_loc, {"snapshotVolumes": True}),
            # Daily: snapshot data moved into the backup bucket, so it survives the cluster.
            ("daily", cfg.daily_schedule, cfg.daily_ttl, default_loc,
             {"snapshotVolumes": True, "snapshotMoveData": True}),
            # Weekly to the archive location (immediately readable tier, within the 4 h RTO).
            ("weekly", cfg.weekly_schedule, cfg.weekly_ttl, archive_loc,
             {"snapshotVolumes": True, "snapshotMoveData": True}),
        ]
        if cfg.enabled:
            for kind, cron, ttl, location, extra in plans:
                sched = f"{ns}-{kind}"
                self.schedules[kind] = sched
                k8s.apiextensions.CustomResource(
                    f"{name}-{kind}",
                    api_version="velero.io/v1",
                    kind="Schedule",
                    metadata=meta(sched, velero_ns, labels={**ctx.labels, "lfh.io/backup": kind}),
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
                            **extra,
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
        # The CronJob's name is at most 52 characters (its Jobs append 11); the rest share it.
        drill = fit(f"restore-drill-{ns}", 52)
        drill_ns = fit(f"{ns}-drill", 63)
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
            {"apiGroups": ["psmdb.percona.com"], "resources": ["perconaservermongodbs"], "verbs": ["get", "list"]},
        ], opts=o())
        KubeObject(f"{name}-drill-reader-binding", "rbac.authorization.k8s.io/v1", "RoleBinding", metadata=meta(reader, ns, labels=lbl),
                                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
                                subjects=subject, opts=o(depends_on=[*deps, reader_role]))

        # Where the drill records its last result (the drill patches `data`; Pulumi leaves it alone).
        KubeObject(f"{name}-drill-result", "v1", "ConfigMap", metadata=meta(drill, velero_ns, labels=lbl),
                              data={"lastResult": "never-run"}, opts=o(ignore_changes=["data"]))
        KubeObject(f"{name}-drill-modifiers", "v1", "ConfigMap", metadata=meta(f"{drill}-modifiers", velero_ns, labels=lbl),
                              data={"modifiers.yaml": DRILL_MODIFIERS}, opts=o())
        script = KubeObject(f"{name}-drill-script", "v1", "ConfigMap", metadata=meta(f"{drill}-script", velero_ns, labels=lbl),
                                       data={"drill.sh": DRILL_SCRIPT}, opts=o())
        env = {
            "SOURCE_NS": ns, "DRILL_NS": drill_ns, "VELERO_NS": velero_ns, "RESULT_CM": drill,
            "SCHEDULE": self.schedules.get("daily", f"{ns}-daily"), "TIMEOUT_SECONDS": str(cfg.drill_timeout_seconds),
            "EXCLUDED_RESOURCES": json.dumps(DRILL_EXCLUDED), "HOME": "/tmp",
            "MODIFIERS_CM": f"{drill}-modifiers",
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
                                                 {"name": "tmp", "mountPath": "/tmp"}],
                            }],
                            "volumes": [
                                {"name": "script", "configMap": {"name": f"{drill}-script", "defaultMode": 0o555}},
                                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                            ],
                        },
                    },
                }},
            },
            opts=o(depends_on=[*deps, sa, script]),
        )
