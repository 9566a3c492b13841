"""`lfh:client:MongoDB`: a MongoDB replica set run by the Percona Operator for MongoDB.

One owner (LESSONS.md: databases were deployed twice): the operator comes from the pinned
`psmdb-operator` chart (namespace-scoped, this namespace only); the database itself is one
`PerconaServerMongoDB` object we write and validate against the operator's CRD. The `psmdb-db`
chart is deliberately not used.
"""
from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from lfh.config.base import image_reference


from ..cloud import adapter_for
from ..cloud.base import BackupTarget, credential_key
from ..k8s import HelmRelease, KubeObject, child_opts, labels, meta, pinned_chart
from .canary import CANARY_DATABASE, canary_enabled
from .contract import FROM_SELF, TO_BACKUP_STORE, TO_KUBE_API, AppWiring, ClientContext, Workload
from .secrets import (MONGODB_ENCRYPTION_KEY, MONGODB_SYSTEM_USERS, ClientSecrets, generation_name,
                      mongodb_app_password_key)

CLUSTER = "mongodb"
REPLSET = "rs0"
PORT = 27017
OPERATOR_RELEASE = "psmdb-operator"
OPERATOR_IMAGE_TAG = "1.22.0"
#: The operator's server-certificate Secret (`secrets.ssl`): `tls.crt`, `tls.key` and `ca.crt`.
TLS_SECRET = f"{CLUSTER}-ssl"
CA_KEY = "ca.crt"
#: Where apps mount the MongoDB CA (the connection string's `tlsCAFile`).
CA_DIR = "/etc/lfh/mongodb-ca"
BACKUP_IMAGE = "percona/percona-backup-mongodb:2.12.0"
#: The backup-agent sidecar (pbm-agent) on every member: Percona's example in the operator's cr.yaml /
#: psmdb-db values.yaml (`backup.resources`: requests 300m / 1G, limit 1.2G) — it streams logical
#: backups and oplog slices (PITR) to the bucket.
BACKUP_AGENT_RESOURCES = {"requests": {"cpu": "300m", "memory": "1Gi"}, "limits": {"memory": "1200Mi"}}
#: Percona images run as this uid/gid.
MONGO_UID = 1001
#: Percona system-user secret keys, by the key of the generated password.
_SYSTEM_USER_ENV = {
    "mongodb-backup-password": "MONGODB_BACKUP",
    "mongodb-databaseadmin-password": "MONGODB_DATABASE_ADMIN",
    "mongodb-clusteradmin-password": "MONGODB_CLUSTER_ADMIN",
    "mongodb-clustermonitor-password": "MONGODB_CLUSTER_MONITOR",
    "mongodb-useradmin-password": "MONGODB_USER_ADMIN",
}

_RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _own_labels(ctx: ClientContext) -> dict[str, str]:
    """Labels we may add to pods an operator or chart owns (never its selector keys)."""
    return {k: v for k, v in labels("x", client=ctx.config.name, environment=ctx.environment).items()
            if k.startswith("lfh.io/")}


def _camel(key: str) -> str:
    head, *rest = key.split("-")
    return head + "".join(p.capitalize() for p in rest)


def _drop_script(uri: str, current: dict[str, str]) -> str:
    """mongosh script: drop each database's app users other than the current one (credentials from env)."""
    import json

    return (
        "const admin = connect(" + json.dumps(uri) + ".replace('mongodb://', 'mongodb://' + process.env.ADMIN_USER + ':' "
        "+ process.env.ADMIN_PASSWORD + '@'));\n"
        "const current = " + json.dumps(current, sort_keys=True) + ";\n"
        "for (const [name, keep] of Object.entries(current)) {\n"
        "  const old = new RegExp('^' + name + '(-r[0-9]+)?$');\n"
        "  for (const u of admin.getUsers({filter: {db: 'admin'}}).users) {\n"
        "    if (old.test(u.user) && u.user !== keep) { admin.dropUser(u.user); print('dropped ' + u.user + ', kept ' + keep); }\n"
        "  }\n"
        "}\n")


def _double(quantity: str) -> str:
    """Twice a CPU quantity (`500m` -> `1`, `1` -> `2`)."""
    if quantity.endswith("m"):
        milli = int(float(quantity[:-1])) * 2
        return f"{milli // 1000}" if milli % 1000 == 0 else f"{milli}m"
    value = float(quantity) * 2
    return str(int(value)) if value.is_integer() else str(value)


class MongoDB(pulumi.ComponentResource):
    """The client's replica set, its operator, users, TLS, encryption at rest and PITR backups.

    Attributes: workloads (operator + mongod), wiring (MONGO_URI for the first database),
    wiring_for(db), service_host, cluster (the PerconaServerMongoDB object), operator (Release).
    """

    def __init__(self, name: str, ctx: ClientContext, secrets: ClientSecrets,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("lfh:client:MongoDB", name, None, opts)
        cfg = ctx.config.mongodb
        ns = ctx.namespace
        self.ctx = ctx
        self.secrets = secrets
        common = dict(client=ctx.config.name, environment=ctx.environment, component="mongodb")
        storage_class = ctx.platform.storage_classes.get("encrypted") or ctx.platform.storage_classes.get("default", "")

        # --- operator: watches this namespace only (namespace-scoped RBAC, no cluster-wide rights).
        self.operator = HelmRelease(f"{name}-operator", {
            "name": OPERATOR_RELEASE,
            **pinned_chart("psmdb-operator", ctx.config.chart_versions),  # `chartVersions` overrides warn in the plan
            "namespace": ns,
            "createNamespace": False,
            "atomic": True,
            "values": {
                "replicaCount": 1,
                "image": {"repository": "percona/percona-server-mongodb-operator", "tag": OPERATOR_IMAGE_TAG,
                          "pullPolicy": "IfNotPresent"},
                # PHI environments do not phone home.
                "disableTelemetry": True,
                "watchAllNamespaces": False,
                "rbac": {"create": True},
                "serviceAccount": {"create": True},
                "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "securityContext": {**_RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                # Only our own label keys: the chart's selector labels must stay the chart's.
                "podLabels": _own_labels(ctx),
            },
        }, child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource]))

        # --- secrets the operator reads, built by External Secrets from generated values.
        users_secret = f"{CLUSTER}-system-users"
        system_data = {_camel(k): secrets.remote_key(k) for k in MONGODB_SYSTEM_USERS}
        system_template: dict[str, str] = {}
        for key, user in MONGODB_SYSTEM_USERS.items():
            env = _SYSTEM_USER_ENV[key]
            system_template[f"{env}_USER"] = user
            system_template[f"{env}_PASSWORD"] = "{{ ." + _camel(key) + " }}"
        es_users = secrets.external_secret(f"{name}-system-users", parent=self, target=users_secret,
                                           data=system_data, template=system_template, component="mongodb")
        key_secret = f"{CLUSTER}-encryption-key"
        es_key = secrets.external_secret(
            f"{name}-encryption-key", parent=self, target=key_secret,
            data={"key": secrets.remote_key(MONGODB_ENCRYPTION_KEY)},
            template={"encryption-key": "{{ .key }}"}, component="mongodb")
        # App users rotate (secrets.py): each rotation is a new user `<db>-<generation>` whose password
        # Secret is named after the rotation too, so the operator can only create the user once External
        # Secrets has written the new password (it retries while the Secret is missing).
        self.generation = secrets.generation
        app_secret = generation_name(f"{CLUSTER}-app-users", self.generation)
        # The apps' databases, and the backup canary's (components/client/canary.py).
        self.databases = [*cfg.databases, *([CANARY_DATABASE] if canary_enabled(ctx) else [])]
        self.users_secret, self.app_users_secret = users_secret, app_secret
        es_app = secrets.external_secret(
            f"{name}-app-users", parent=self, target=app_secret,
            data={db: secrets.remote_key(mongodb_app_password_key(db)) for db in self.databases},
            component="mongodb")
        waits: list[pulumi.Resource] = [self.operator, es_users, es_key, es_app]

        # --- backups: the platform bucket, under <client>/<env>/mongodb, with PITR.
        self.service_account_name = CLUSTER
        adapter = adapter_for(ctx, self)
        backup_binding = adapter.backup_identity("backup", self.service_account_name, "mongodb")
        target: Optional[BackupTarget] = adapter.backup_target("mongodb", backup_binding)
        credentials_secret = target.storage[target.storage["type"]].get("credentialsSecret") if target else None
        if target is not None and target.credentials:
            # Made by the stack (HMAC key, account key, generated key pair): stored, then synced.
            waits.append(secrets.external_secret(
                f"{name}-backup-credentials", parent=self, target=credentials_secret,
                data={k: secrets.write(credential_key("mongodb", k), v) for k, v in target.credentials.items()},
                component="mongodb"))
        elif target is not None and target.credentials_remote_key:
            waits.append(secrets.external_secret(
                f"{name}-backup-credentials", parent=self, target=target.storage[target.storage["type"]]["credentialsSecret"],
                data={}, extract=secrets.declare(
                    target.credentials_remote_key,
                    "MongoDB backup storage credentials (JSON: " + ", ".join(target.credentials_keys) + ")"),
                component="mongodb"))
        #: Whether logical backups with point-in-time recovery reach the platform bucket (backups.py says so).
        self.backups_to_bucket = target is not None
        if target is None:
            pulumi.log.warn(
                f"{ns}: the platform contract names no backup bucket (backups.bucket); MongoDB backups and "
                "point-in-time recovery stay off until it does", resource=self)
        self.service_account = KubeObject(
            f"{name}-sa", "v1", "ServiceAccount",
            metadata=meta(self.service_account_name, ns,
                          labels=labels(CLUSTER, **common),
                          annotations=(backup_binding.annotations if backup_binding else None) or None),
            # mongod needs no Kubernetes API token; IRSA/WI inject their own projected token.
            automountServiceAccountToken=False,
            opts=child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource]),
        )
        waits.append(self.service_account)

        tls: dict[str, Any] = {
            # `requireTLS` (default): members and every client connect over TLS only (the seed's data
            # zone is "TLS + auth"); `preferTLS` is the explicit, weaker choice that admits plain TCP.
            "mode": cfg.tls_mode,
            "certValidityDuration": "2160h",
        }
        # No `issuerConf`: the operator's own cert-manager integration issues `<cluster>-ssl` and
        # `<cluster>-ssl-internal` from a CA of this cluster alone (a self-signed Issuer + CA Certificate
        # in this namespace; percona-server-mongodb-operator v1.22.0 pkg/controller/perconaservermongodb/
        # ssl.go applyCertManagerCertificates). The apps trust that CA only, so no certificate issued
        # for anything else on the platform can impersonate this database. (With `issuerConf` the
        # operator still creates that CA chain, plus a namespaced Issuer named like the ClusterIssuer:
        # pkg/psmdb/tls/certmanager.go ApplyIssuer.)

        replset: dict[str, Any] = {
            "name": REPLSET,
            "size": cfg.members,
            # The db pool (tainted `lfh.io/pool=db:NoSchedule`): its nodes are sized for mongod.
            **ctx.placement("db"),
            "serviceAccountName": self.service_account_name,
            "affinity": {"antiAffinityTopologyKey": "kubernetes.io/hostname" if cfg.members > 1 else "none"},
            "topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": CLUSTER, "app.kubernetes.io/replset": REPLSET}},
            }],
            "podDisruptionBudget": {"maxUnavailable": 1},
            "expose": {"enabled": False},
            "resources": {
                "requests": {"cpu": cfg.cpu_request, "memory": cfg.memory},
                "limits": {"cpu": _double(cfg.cpu_request), "memory": cfg.memory},
            },
            "podSecurityContext": {"runAsNonRoot": True, "runAsUser": MONGO_UID, "runAsGroup": MONGO_UID,
                                   "fsGroup": MONGO_UID, "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": _RESTRICTED_CONTAINER,
            # Encryption at rest with the key from `secrets.encryptionKey` (never the default key file).
            "configuration": "security:\n  enableEncryption: true\n  encryptionCipherMode: AES256-GCM\n",
            "volumeSpec": {"persistentVolumeClaim": {
                "storageClassName": storage_class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": cfg.storage_size}},
            }},
            # Only our own label keys: the operator's `app.kubernetes.io/*` labels select the pods.
            "labels": {**_own_labels(ctx), **(backup_binding.pod_labels if backup_binding else {})},
        }
        # Metrics (when the platform runs monitoring): the exporter sidecar on every member.
        self.monitored = bool((ctx.platform.monitoring or {}).get("enabled"))
        if self.monitored:
            from .mongodb_monitoring import exporter_sidecar

            replset["sidecars"] = [exporter_sidecar(cfg.exporter_image, users_secret, tls=cfg.tls_mode == "requireTLS")]
        backup: dict[str, Any] = {"enabled": False}
        if target is not None:
            backup = {
                "enabled": True,
                "image": BACKUP_IMAGE,
                "resources": BACKUP_AGENT_RESOURCES,
                "containerSecurityContext": _RESTRICTED_CONTAINER,
                "storages": {"platform": {"main": True, **target.storage}},
                # Oplog slices reach the bucket at least every `pitrOplogSpanMinutes` (RPO ≤ 5 min).
                "pitr": {"enabled": True, "oplogSpanMin": cfg.pitr_oplog_span_minutes, "compressionType": "zstd"},
                "tasks": [{
                    "name": "daily", "enabled": True, "schedule": cfg.backup_schedule, "type": "logical",
                    "storageName": "platform", "compressionType": "zstd",
                    "retention": {"type": "count", "count": cfg.backup_keep, "deleteFromStorage": True},
                }],
            }
        spec: dict[str, Any] = {
            "crVersion": OPERATOR_IMAGE_TAG,
            "image": image_reference("percona/percona-server-mongodb", cfg.image_tag),
            "imagePullPolicy": "IfNotPresent",
            # Pinned image: the operator must not upgrade MongoDB on its own.
            "upgradeOptions": {"apply": "disabled", "setFCV": False},
            "updateStrategy": "SmartUpdate",
            "secrets": {"users": users_secret, "encryptionKey": key_secret, "ssl": TLS_SECRET,
                        "sslInternal": f"{TLS_SECRET}-internal"},
            "tls": tls,
            "initContainerSecurityContext": _RESTRICTED_CONTAINER,
            "replsets": [replset],
            "sharding": {"enabled": False},
            "logcollector": {"enabled": False},
            # Percona operator 1.22 (pkg/controller/perconaservermongodb/custom_users.go): creates a listed
            # user that does not exist, changes a listed user's password in place when its Secret's value
            # changes, and never drops a user that leaves the list. An in-place change would break the
            # running pods' new connections, so each rotation adds a new user instead: create new (here),
            # switch (the apps' Secret is named after the rotation, so they roll onto it), drop old
            # (`drop_old_users`, a Job after every app has rolled).
            "users": [{
                "name": self.app_user(db), "db": "admin",
                "passwordSecretRef": {"name": app_secret, "key": db},
                # Its own database only; apps never connect as root or an admin user.
                "roles": [{"name": "readWrite", "db": db}],
            } for db in self.databases],
            "backup": backup,
        }
        if cfg.members < 3:
            # The operator refuses fewer than 3 members unless told; only non-production gets here.
            spec["unsafeFlags"] = {"replsetSize": True}
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="psmdb.percona.com/v1",
            kind="PerconaServerMongoDB",
            metadata=meta(CLUSTER, ns, labels=labels(CLUSTER, **common)),
            spec=spec,
            # The database and its PVCs outlive a mistaken `pulumi destroy`.
            opts=child_opts(self, ctx.provider, depends_on=waits, protect=True, retain_on_delete=True),
        )

        # --- what others need
        self.service_host = f"{CLUSTER}-{REPLSET}.{ns}.svc.cluster.local"
        self.pod_labels = {"app.kubernetes.io/instance": CLUSTER, "app.kubernetes.io/replset": REPLSET,
                           "app.kubernetes.io/component": "mongod"}
        if self.monitored:
            from .mongodb_monitoring import EXPORTER_PORT, MongoDBMonitoring

            # The operator names each member's data volume `mongod-data-<cluster>-<replset>-<n>`.
            self.monitoring = MongoDBMonitoring(f"{name}-monitoring", ctx, pod_labels=self.pod_labels,
                                                pvc_prefix=f"mongod-data-{CLUSTER}-{REPLSET}-",
                                                depends_on=[self.cluster], opts=pulumi.ResourceOptions(parent=self))
        self.workloads = [
            Workload(
                name="mongodb", pod_labels=self.pod_labels, ports=[PORT], peer_ports=[PORT],
                ingress_from=[FROM_SELF], metrics_port=EXPORTER_PORT if self.monitored else None,
                # Backup agent (sidecar) uploads to object storage over HTTPS.
                # pbm-agent streams backups and oplog slices to the platform's backup bucket.
                egress_to=[TO_BACKUP_STORE] if target is not None else [],
                tier="data",
            ),
            Workload(
                name="mongodb-operator",
                pod_labels={"app.kubernetes.io/name": "psmdb-operator", "app.kubernetes.io/instance": OPERATOR_RELEASE},
                egress_to=[TO_KUBE_API, "mongodb"],
                tier="data",
            ),
        ]
        self.wiring = self.wiring_for(cfg.databases[0])
        self.register_outputs({"host": self.service_host, "members": cfg.members})

    def app_user(self, database: str) -> pulumi.Output[str]:
        """The app user of ``database`` in the current rotation: `<database>-<generation>`."""
        return generation_name(database, self.generation)

    def uri_template(self, database: str, password_key: str) -> pulumi.Output[str]:
        # TLS always, verified against this cluster's CA (mounted by the apps, see wiring_for); the
        # host is the replset Service, whose names the server certificate carries (GetCertificateSans).
        return pulumi.Output.concat(
            "mongodb://", self.app_user(database), f":{{{{ .{password_key} }}}}@{self.service_host}:{PORT}/{database}",
            f"?replicaSet={REPLSET}&authSource=admin&tls=true&tlsCAFile={CA_DIR}/{CA_KEY}")

    def drop_old_users(self, after: list[pulumi.Resource]) -> Workload:
        """"Drop old": a Job, named after the rotation, that removes every earlier app user of each database
        (`<db>` of releases before rotation, `<db>-r<n>`) once ``after`` (the apps, which Pulumi waits on
        until their rollout is complete) runs on the current user. Runs as the operator's `userAdmin`."""
        ctx, cfg = self.ctx, self.ctx.config.mongodb
        ns = ctx.namespace
        job = "mongodb-drop-old-users"
        selector = {"app.kubernetes.io/name": job, "app.kubernetes.io/instance": f"{job}-{ns}"[:63].rstrip("-")}
        lbl = {**labels(job, client=ctx.config.name, environment=ctx.environment, component="mongodb"), **selector}
        uri = f"mongodb://{self.service_host}:{PORT}/admin?replicaSet={REPLSET}&authSource=admin"
        mounts: list[dict[str, Any]] = [{"name": "home", "mountPath": "/tmp"}]
        volumes: list[dict[str, Any]] = [{"name": "home", "emptyDir": {"sizeLimit": "64Mi"}}]
        if cfg.tls_mode == "requireTLS":
            # The operator's TLS Secret `<cluster>-ssl` holds the CA the members' certificates chain to.
            uri += "&tls=true&tlsCAFile=/etc/mongodb-ssl/ca.crt"
            mounts.append({"name": "ssl", "mountPath": "/etc/mongodb-ssl", "readOnly": True})
            volumes.append({"name": "ssl", "secret": {"secretName": f"{CLUSTER}-ssl", "items": [{"key": "ca.crt", "path": "ca.crt"}]}})
        keep = {db: self.app_user(db) for db in self.databases}
        script = pulumi.Output.all(**keep).apply(lambda current: _drop_script(uri, current))
        users_secret = f"{CLUSTER}-system-users"
        # Its own ServiceAccount: no API token, and not mongod's (which may carry the backup identity).
        sa = KubeObject(f"{self._name}-drop-old-users-sa", "v1", "ServiceAccount", metadata=meta(job, ns, labels=lbl),
                        automountServiceAccountToken=False,
                        opts=child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource]))
        KubeObject(
            f"{self._name}-drop-old-users", "batch/v1", "Job",
            metadata=meta(generation_name(job, self.generation), ns, labels=lbl),
            spec={
                "backoffLimit": 6,
                "activeDeadlineSeconds": 1800,
                # No TTL: the finished Job (replaced at the next rotation) and its log are the rotation's
                # evidence (which users were dropped, when).
                "template": {"metadata": {"labels": lbl}, "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "serviceAccountName": job,
                    "enableServiceLinks": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": MONGO_UID, "runAsGroup": MONGO_UID,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "drop-old-users",
                        # The replica set's own pinned image ships mongosh (percona/percona-docker
                        # percona-server-mongodb-7.0/Dockerfile installs percona-mongodb-mongosh).
                        "image": image_reference("percona/percona-server-mongodb", cfg.image_tag),
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["mongosh", "--nodb", "--quiet", "--eval", script],
                        "env": [{"name": "HOME", "value": "/tmp"},
                                *({"name": var, "valueFrom": {"secretKeyRef": {"name": users_secret, "key": f"MONGODB_USER_ADMIN_{part}"}}}
                                  for var, part in (("ADMIN_USER", "USER"), ("ADMIN_PASSWORD", "PASSWORD")))],
                        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                        "securityContext": {**_RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                }},
            },
            opts=child_opts(self, ctx.provider, depends_on=[self.cluster, sa, *after]),
        )
        return Workload(name=job, pod_labels=selector, egress_to=["mongodb"], tier="data")

    def wiring_for(self, database: str) -> AppWiring:
        """MONGO_URI for ``database``'s app user (never root), and the CA file it names."""
        return AppWiring(
            secret_env={"MONGO_URI": self.uri_template(database, "mongoPassword")},
            secret_data={"mongoPassword": self.secrets.remote_key(mongodb_app_password_key(database))},
            egress_to=["mongodb"],
            # Only `ca.crt` of the operator's TLS Secret is projected into the pod (not the server key).
            secret_files={CA_DIR: (TLS_SECRET, [CA_KEY])},
        )
