"""`lfh:client:BackupCanary`: the data the restore drill looks for in the restored copy.

Every `canarySchedule` a Job writes a canary document (`_id` = its UTC timestamp) into MongoDB
(database `lfhcanary`, its own readWrite-only user, kept 14 days by a TTL index) and a canary object
`lfh-canary/<timestamp>.json` into the client's bucket. The restore drill runs the same pod, in
`verify` mode, inside the restored copy: the newest canary it finds there is what the backup holds
(its age is the achieved RPO) and its object must be readable (the database's file references
resolve). In `pbm-off` mode it turns point-in-time slicing off in the copy's own Percona Backup
configuration before the drill starts the copy's backup agents (they must never write into the live
environment's backup prefix).

Images: the MongoDB image itself (the PSMDB images ship `mongosh`, which runs the JavaScript below)
and rclone (one client for S3 with IRSA, Azure Blob with workload identity, GCS with Workload Identity
and MinIO: its `env_auth` uses each cloud SDK's default credential chain, rclone v1.75.0
backend/azureblob/auth/auth.go NewDefaultAzureCredential, backend/googlecloudstorage google.DefaultClient,
backend/s3 `env_auth`). Both run non-root with read-only root filesystems (Pod Security `restricted`).
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Optional

import pulumi

from lfh.config.base import image_reference

from ..cloud import adapter_for
from ..k8s import KubeObject, child_opts, labels, meta
from .contract import TO_INTERNET_HTTPS, ClientContext, Workload
from .network import TO_CLOUD_METADATA
from .webservice import container_security_context, pod_security_context

if TYPE_CHECKING:
    from .mongodb import MongoDB
    from .objectstore import ObjectStorage

CANARY = "backup-canary"
CANARY_DATABASE = "lfhcanary"
OBJECT_PREFIX = "lfh-canary"
#: rclone runs as this user in its image (rclone v1.75.0 Dockerfile: `adduser -u 1009`).
RCLONE_UID = 1009
#: The Percona images' user.
MONGO_UID = 1001
#: Pod labels of the canary (and of the drill's verify Jobs in the copy: the copy's restored
#: NetworkPolicies admit them to MongoDB and the object store because they match these).
POD_LABELS = {"app.kubernetes.io/name": CANARY, "app.kubernetes.io/instance": CANARY}

CANARY_JS = r"""// backup canary: write (live namespace), verify / pbm-off (the restore drill's copy)
const fs = require("fs");
const env = process.env;
function uri(user, password) {
  return env.MONGO_ADDRESS_TEMPLATE.replace("__NAMESPACE__", env.POD_NAMESPACE)
    .replace("__USER__", encodeURIComponent(user)).replace("__PASSWORD__", encodeURIComponent(password));
}
const mode = env.MODE || "write";
if (mode === "pbm-off") {
  // The copy's PBM configuration came with the restored data: no oplog slicing from the copy.
  const admin = connect(uri(env.MONGO_BACKUP_USER, env.MONGO_BACKUP_PASSWORD)).getSiblingDB("admin");
  admin.pbmConfig.updateMany({}, {$set: {"pitr.enabled": false}});
  fs.writeFileSync("/work/canary-ts", "pbm-off");
  quit(0);
}
const canaries = connect(uri(env.MONGO_USER, env.MONGO_PASSWORD)).getSiblingDB(env.MONGO_DATABASE).canaries;
if (mode === "write") {
  const at = new Date();
  canaries.insertOne({_id: at.toISOString(), at: at, source: "backup-canary"});
  canaries.createIndex({at: 1}, {expireAfterSeconds: 14 * 86400});
  fs.writeFileSync("/work/canary-ts", at.toISOString());
} else {
  const newest = canaries.find().sort({at: -1}).limit(1).toArray()[0];
  if (!newest) { print("no canary document in the copy"); quit(2); }
  fs.writeFileSync("/work/canary-ts", newest._id);
  fs.writeFileSync("/work/canary-count", String(canaries.countDocuments({})));
}
"""

CANARY_SH = r"""#!/bin/sh
# backup canary, object half: write lfh-canary/<ts>.json, or read it back in the drill's copy.
set -eu
export HOME=/tmp RCLONE_CONFIG=/tmp/rclone.conf
if [ -n "${ENDPOINT_TEMPLATE:-}" ]; then
  RCLONE_CONFIG_CANARY_ENDPOINT=$(echo "$ENDPOINT_TEMPLATE" | sed "s/__NAMESPACE__/$POD_NAMESPACE/")
  export RCLONE_CONFIG_CANARY_ENDPOINT
fi
if [ -n "${MINIO_USER:-}" ]; then export RCLONE_CONFIG_CANARY_ACCESS_KEY_ID="$MINIO_USER"; fi
ts=$(cat /work/canary-ts)
case "${MODE:-write}" in
  write)
    printf '{"at":"%s","source":"backup-canary"}\n' "$ts" | rclone rcat "canary:$BUCKET/$PREFIX/$ts.json"
    # Kept as long as the canary documents (their TTL index): 14 days.
    rclone delete --min-age 14d "canary:$BUCKET/$PREFIX" || true
    printf '{"event":"backup-canary","at":"%s"}\n' "$ts" ;;
  pbm-off)
    printf '{"event":"canary-pbm-off"}\n' ;;
  *)
    count=$(cat /work/canary-count 2>/dev/null || echo 0)
    if rclone cat "canary:$BUCKET/$PREFIX/$ts.json" >/tmp/object.json 2>/tmp/rclone.err; then ok=true; else ok=false; fi
    printf '{"event":"canary-verify","mongoNewest":"%s","mongoCount":%s,"objectOk":%s}\n' "$ts" "$count" "$ok" ;;
esac
"""


def canary_enabled(ctx: ClientContext) -> bool:
    """The canary exists where the restore drill does, for an in-cluster MongoDB (a managed database's
    backups are the provider's: the drill does not restore it, so there is nothing to read back)."""
    b = ctx.config.backups
    return bool(b.enabled and b.restore_drill and ctx.config.mongodb.external is None)


class BackupCanary(pulumi.ComponentResource):
    """The canary CronJob, its identity and the Job template the restore drill runs in the copy.

    Attributes: workload (its network declaration), verify_job (a Job manifest, namespace left to
    the drill), config_map (its scripts).
    """

    def __init__(self, name: str, ctx: ClientContext, mongodb: "MongoDB", objects: "ObjectStorage",
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("lfh:client:BackupCanary", name, None, opts)
        cfg = ctx.config.backups
        ns = ctx.namespace
        self.ctx = ctx
        lbl = labels(CANARY, client=ctx.config.name, environment=ctx.environment, component="backup-canary")
        deps = [ctx.namespace_resource]
        kind = (ctx.platform.cloud or {}).get("kind")

        # --- where the object goes: the client's bucket, through rclone's backend for it
        rclone_env: dict[str, Any] = {"BUCKET": objects.bucket_name, "PREFIX": OBJECT_PREFIX,
                                      "RCLONE_CONFIG_CANARY_ENV_AUTH": "true"}
        secret_env: list[dict[str, Any]] = []
        egress: list[str] = ["mongodb"]
        annotations: dict[str, Any] = {}
        pod_labels = dict(POD_LABELS)
        if objects.mode == "minio":
            from .objectstore import MINIO_PORT, MINIO_RELEASE

            rclone_env.update({
                "RCLONE_CONFIG_CANARY_TYPE": "s3", "RCLONE_CONFIG_CANARY_PROVIDER": "Minio",
                # The app user of the current key rotation (objectstore.py: `hapihub-r<n>` and its Secret).
                "RCLONE_CONFIG_CANARY_ENV_AUTH": "false", "MINIO_USER": objects.app_user,
                "ENDPOINT_TEMPLATE": f"http://{MINIO_RELEASE}.__NAMESPACE__.svc.cluster.local:{MINIO_PORT}"})
            secret_env.append({"name": "RCLONE_CONFIG_CANARY_SECRET_ACCESS_KEY",
                               "valueFrom": {"secretKeyRef": {"name": objects.app_secret, "key": "secretKey"}}})
            egress.append("minio")
        else:
            # Its own identity on the client's bucket, also usable from the drill's copy.
            binding = adapter_for(ctx, self).workload_identity(CANARY, CANARY, bucket=objects.bucket, drill_copy=True)
            annotations = dict(binding.annotations)
            pod_labels.update(binding.pod_labels)
            egress.append(TO_INTERNET_HTTPS)
            if kind == "aws":
                rclone_env.update({"RCLONE_CONFIG_CANARY_TYPE": "s3", "RCLONE_CONFIG_CANARY_PROVIDER": "AWS",
                                   "RCLONE_CONFIG_CANARY_REGION": objects.bucket.region})
            elif kind == "azure":
                rclone_env.update({"RCLONE_CONFIG_CANARY_TYPE": "azureblob",
                                   "RCLONE_CONFIG_CANARY_ACCOUNT": objects.bucket.app_env.get("AZURE_STORAGE_ACCOUNT", "")})
            else:
                rclone_env.update({"RCLONE_CONFIG_CANARY_TYPE": "google cloud storage",
                                   "RCLONE_CONFIG_CANARY_BUCKET_POLICY_ONLY": "true"})
                egress.append(TO_CLOUD_METADATA)  # GKE Workload Identity tokens
        self.workload = Workload(name=CANARY, pod_labels=dict(POD_LABELS), egress_to=egress)

        self.service_account = KubeObject(
            f"{name}-sa", "v1", "ServiceAccount",
            metadata=meta(CANARY, ns, labels=lbl, annotations=annotations or None),
            automountServiceAccountToken=False, opts=child_opts(self, ctx.provider, depends_on=deps))
        self.config_map = KubeObject(
            f"{name}-scripts", "v1", "ConfigMap", metadata=meta(f"{CANARY}-scripts", ns, labels=lbl),
            data={"canary.js": CANARY_JS, "canary.sh": CANARY_SH}, opts=child_opts(self, ctx.provider, depends_on=deps))

        # mongodb://__USER__:__PASSWORD__@mongodb-rs0.__NAMESPACE__.svc…: the URI the MongoDB component
        # gives apps, made namespace-independent (the same pod runs in the drill's copy).
        # (The user is the canary database's app user of the current rotation: `canary-r<n>`.)
        uri = mongodb.uri_template(CANARY_DATABASE, "p").apply(lambda u: re.sub(r"^mongodb://[^:]+:", "mongodb://__USER__:", u)
                                                              .replace("{{ .p }}", "__PASSWORD__")
                                                              .replace(f".{ns}.svc", ".__NAMESPACE__.svc"))
        mongo_env = [
            {"name": "MONGO_ADDRESS_TEMPLATE", "value": uri},
            {"name": "MONGO_USER", "value": mongodb.app_user(CANARY_DATABASE)},
            {"name": "MONGO_DATABASE", "value": CANARY_DATABASE},
            {"name": "MONGO_PASSWORD", "valueFrom": {"secretKeyRef": {"name": mongodb.app_users_secret,
                                                                      "key": CANARY_DATABASE}}},
        ]
        self._image = image_reference("percona/percona-server-mongodb", ctx.config.mongodb.image_tag)
        self._rclone = cfg.canary_object_image
        self._rclone_env = rclone_env
        self._secret_env = secret_env
        self._mongo_env = mongo_env
        self._pod_labels = pod_labels
        self._users_secret = mongodb.users_secret

        self.cron_job = KubeObject(
            f"{name}-cronjob", "batch/v1", "CronJob", metadata=meta(CANARY, ns, labels=lbl),
            spec={
                "schedule": cfg.canary_schedule,
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 1,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 2, "activeDeadlineSeconds": 600,
                                         "template": self.pod_template("write")}},
            },
            opts=child_opts(self, ctx.provider, depends_on=[*deps, self.service_account, self.config_map, mongodb.cluster]))
        self.register_outputs({"schedule": cfg.canary_schedule})

    def pod_template(self, mode: str) -> dict[str, Any]:
        """The canary pod in ``mode`` (`write`, `verify`, `pbm-off`)."""
        from .mongodb import CA_DIR, CA_KEY, TLS_SECRET  # (mongodb.py imports this module)

        mongo_env = list(self._mongo_env)
        if mode == "pbm-off":
            # Only the drill's copy ever runs this: the backup user of the copy's own system users.
            mongo_env += [{"name": f"MONGO_BACKUP_{part}", "valueFrom": {"secretKeyRef": {
                "name": self._users_secret, "key": f"MONGODB_BACKUP_{part}"}}} for part in ("USER", "PASSWORD")]
        common = [{"name": "MODE", "value": mode}, {"name": "HOME", "value": "/tmp"},
                  {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
        mounts = [{"name": "scripts", "mountPath": "/canary", "readOnly": True},
                  {"name": "work", "mountPath": "/work"}, {"name": "tmp", "mountPath": "/tmp"}]
        small = {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
        return {
            "metadata": {"labels": dict(self._pod_labels)},
            "spec": {
                "serviceAccountName": CANARY,
                "automountServiceAccountToken": False,
                "restartPolicy": "Never",
                "securityContext": pod_security_context(RCLONE_UID, RCLONE_UID, RCLONE_UID),
                "initContainers": [{
                    "name": "mongodb", "image": self._image, "imagePullPolicy": "IfNotPresent",
                    "command": ["mongosh", "--nodb", "--quiet", "--file", "/canary/canary.js"],
                    # The replica set's CA, which its connection string names (`tlsCAFile`, requireTLS).
                    "env": common + mongo_env, "volumeMounts": [*mounts, {"name": "mongodb-ca", "mountPath": CA_DIR,
                                                                          "readOnly": True}], "resources": small,
                    "securityContext": {**container_security_context(True), "runAsUser": MONGO_UID, "runAsGroup": MONGO_UID},
                }],
                "containers": [{
                    "name": "objects", "image": self._rclone, "imagePullPolicy": "IfNotPresent",
                    "command": ["/bin/sh", "/canary/canary.sh"],
                    "env": common + [{"name": k, "value": v} for k, v in self._rclone_env.items()] + self._secret_env,
                    "volumeMounts": mounts, "resources": small,
                    "securityContext": container_security_context(True),
                }],
                "volumes": [
                    {"name": "scripts", "configMap": {"name": f"{CANARY}-scripts", "defaultMode": 0o555}},
                    {"name": "work", "emptyDir": {"sizeLimit": "1Mi"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    {"name": "mongodb-ca", "secret": {"secretName": TLS_SECRET, "items": [{"key": CA_KEY, "path": CA_KEY}]}},
                ],
            },
        }

    def verify_job(self, mode: str) -> pulumi.Output[str]:
        """The Job the drill creates in the copy (JSON; the drill sets name and namespace)."""
        return pulumi.Output.from_input({"apiVersion": "batch/v1", "kind": "Job",
                                         "metadata": {"name": f"restore-drill-{mode}", "labels": dict(POD_LABELS)},
                                         "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 900,
                                                  "template": self.pod_template(mode)}}).apply(
            lambda job: json.dumps(job, sort_keys=True))
