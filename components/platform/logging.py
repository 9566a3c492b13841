"""Container logs on existing clusters (HIPAA 164.312(b)): a pinned Fluent Bit DaemonSet that ships every
container's log — the apps' and the gateway's access log — to the platform's backup object store under
`logging.collector.prefix`. Cloud clusters use their own agent instead (the cluster contract's `log_agent`:
EKS CloudWatch Observability add-on, AKS Container Insights, GKE Cloud Logging).

Written as Kubernetes objects after the Fluent Bit project's official chart (fluent/helm-charts
charts/fluent-bit 0.58.1, appVersion 5.1.1: its DaemonSet, ClusterRole and default `tail` + `kubernetes`
pipeline), because no chart may be fetched at deploy time here. Differences, each on purpose:
- `s3` output to the S3-compatible backup endpoint (Fluent Bit docs, "Amazon S3" output: `endpoint`,
  `use_put_object` for non-AWS stores), credentials from the platform secret store (`platform/logs`).
- Pods cannot opt out (`K8S-Logging.Exclude Off`): an audit trail must not depend on pod annotations.
- `tail` keeps its offsets in a file (`DB`) and starts new files from their head: a restarted collector
  re-reads rather than skips (duplicates over loss).
- Hardened: uid 0 only to read the kubelet's root-owned log files (0640/0600), every capability dropped,
  no privilege escalation, read-only root file system, `/var/log` mounted read-only.

`logging` runs with Pod Security `privileged` (documented exception): the collector mounts the node's
`/var/log` (hostPath) and runs as uid 0, which no lower level allows.

Retention: the bucket's lifecycle decides how long `<prefix>/` objects live; on an existing cluster that
bucket is not ours, so its owner must keep `<prefix>/` at least `logging.retentionDays`
(docs/hipaa.md lists it among the operator's duties).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi

from lfh.config.platform import LoggingConfig

from ..cluster.contract import ClusterContract
from ..k8s import KubeObject, child_opts, labels, meta
from ._helpers import namespace, resources, restricted_container
from .network import KUBE_API, OBJECT_STORE, PlatformNetwork, PodSet
from .secrets import Secrets

NAMESPACE = "logging"
NAME = "fluent-bit"
CREDENTIALS_SECRET = "log-collector-credentials"
CONFIG_DIR = "/fluent-bit/etc/conf"
STATE_DIR = "/var/lib/fluent-bit"
POD_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/instance": "log-collector"}
HTTP_PORT = 2020


def network_pods() -> list[PodSet]:
    """The collector: reads pod metadata from the API server, writes to the object store."""
    return [PodSet("log-collector", NAMESPACE, dict(POD_LABELS), connects_to=(KUBE_API, OBJECT_STORE))]


def fluent_bit_config(cluster: ClusterContract, cfg: LoggingConfig) -> str:
    """fluent-bit.conf (classic mode): tail every container log, add Kubernetes metadata, gzip to S3."""
    b = cluster.backup
    endpoint = f"    endpoint {b.endpoint}\n" if b.endpoint else ""
    return (
        "[SERVICE]\n"
        "    Daemon Off\n    Flush 5\n    Log_Level warn\n"
        f"    HTTP_Server On\n    HTTP_Listen 0.0.0.0\n    HTTP_Port {HTTP_PORT}\n    Health_Check On\n"
        f"    storage.path {STATE_DIR}/buffer\n\n"
        "[INPUT]\n"
        "    Name tail\n    Path /var/log/containers/*.log\n    multiline.parser docker, cri\n    Tag kube.*\n"
        f"    DB {STATE_DIR}/tail.db\n    Read_from_Head On\n    Mem_Buf_Limit 50MB\n    Skip_Long_Lines On\n"
        "    storage.type filesystem\n\n"
        "[FILTER]\n"
        "    Name kubernetes\n    Match kube.*\n    Merge_Log On\n    Keep_Log Off\n"
        "    K8S-Logging.Parser Off\n    K8S-Logging.Exclude Off\n\n"
        "[OUTPUT]\n"
        f"    Name s3\n    Match kube.*\n    bucket {b.bucket}\n    region {b.region or 'us-east-1'}\n{endpoint}"
        f"    s3_key_format /{cfg.collector.prefix}/%Y/%m/%d/%H/$UUID.gz\n"
        "    compression gzip\n    use_put_object On\n    total_file_size 50M\n    upload_timeout 5m\n"
        f"    store_dir {STATE_DIR}/s3\n    Retry_Limit False\n"
    )


class LogCollector(pulumi.ComponentResource):
    """Fluent Bit on every node of an existing cluster."""

    def __init__(self, name: str, cfg: LoggingConfig, cluster: ClusterContract, secrets: Secrets, *,
                 network: PlatformNetwork, chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:LogCollector", name, None, opts)
        p = cluster.provider
        lbl = {**labels(NAME, component="logging"), **POD_LABELS}
        self.namespace = namespace(
            self, p, NAMESPACE, level="privileged", component="logging", depends_on=cluster.ready,
            why="the log collector mounts the node's /var/log (hostPath) and runs as uid 0 to read the kubelet's log files")
        self.network_policies = network.create(self, p, NAMESPACE, depends_on=[self.namespace])
        kopts = child_opts(self, p, depends_on=[self.namespace])
        # Bucket credentials from the platform store (`platform/logs`: accessKeyId, secretAccessKey); without
        # a store, the operator creates logging/log-collector-credentials by hand (as velero's).
        self.credentials: Optional[pulumi.Resource] = secrets.external_secret(
            self, p, "credentials", name=CREDENTIALS_SECRET, namespace=NAMESPACE, target=CREDENTIALS_SECRET,
            data={"AWS_ACCESS_KEY_ID": ("platform/logs", "accessKeyId"),
                  "AWS_SECRET_ACCESS_KEY": ("platform/logs", "secretAccessKey")},
            depends_on=[self.namespace])
        sa = KubeObject(f"{name}-sa", "v1", "ServiceAccount", metadata=meta(NAME, NAMESPACE, labels=lbl), opts=kopts)
        # The chart's ClusterRole: read pods and namespaces for the `kubernetes` filter's metadata.
        role = KubeObject(f"{name}-role", "rbac.authorization.k8s.io/v1", "ClusterRole",
                          metadata=meta("lfh-log-collector", labels=lbl),
                          rules=[{"apiGroups": [""], "resources": ["namespaces", "pods"], "verbs": ["get", "list", "watch"]}],
                          opts=kopts)
        KubeObject(f"{name}-binding", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding",
                   metadata=meta("lfh-log-collector", labels=lbl),
                   roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "lfh-log-collector"},
                   subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
                   opts=child_opts(self, p, depends_on=[sa, role]))
        conf = fluent_bit_config(cluster, cfg)
        config = KubeObject(f"{name}-config", "v1", "ConfigMap", metadata=meta(NAME, NAMESPACE, labels=lbl),
                            data={"fluent-bit.conf": conf}, opts=kopts)
        from ..client.webservice import config_checksum

        container = {
            "name": NAME, "image": cfg.collector.image, "imagePullPolicy": "IfNotPresent",
            "command": ["/fluent-bit/bin/fluent-bit"], "args": ["--workdir=/fluent-bit/etc", f"--config={CONFIG_DIR}/fluent-bit.conf"],
            "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
            "envFrom": [{"secretRef": {"name": CREDENTIALS_SECRET}}],
            "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
            "readinessProbe": {"httpGet": {"path": "/api/v2/health", "port": "http"}},
            "resources": resources(cfg.collector.resources),
            # uid 0 (pod) reads the root-owned log files; nothing else of root's power is left.
            "securityContext": {**restricted_container(), "runAsNonRoot": False},
            "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                             {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
                             {"name": "state", "mountPath": STATE_DIR}],
        }
        pod_spec: dict[str, Any] = {
            "serviceAccountName": NAME,
            "securityContext": {"runAsUser": 0, "runAsGroup": 0, "seccompProfile": {"type": "RuntimeDefault"}},
            # Every node, whatever its taints: a node without the collector is a gap in the audit trail.
            "tolerations": [{"operator": "Exists"}],
            "priorityClassName": "system-node-critical",
            "containers": [container],
            "volumes": [{"name": "config", "configMap": {"name": NAME}},
                        {"name": "varlog", "hostPath": {"path": "/var/log", "type": "Directory"}},
                        # Offsets and the output buffer survive container restarts (the pod's life).
                        {"name": "state", "emptyDir": {"sizeLimit": "2Gi"}}],
        }
        deps = [config, sa, *self.network_policies, *([self.credentials] if self.credentials is not None else [])]
        self.daemonset = KubeObject(
            f"{name}-daemonset", "apps/v1", "DaemonSet", metadata=meta(NAME, NAMESPACE, labels=lbl),
            spec={"selector": {"matchLabels": dict(POD_LABELS)},
                  "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                  "template": {"metadata": {"labels": lbl, "annotations": {"lfh.io/config-checksum": config_checksum(conf)}},
                               "spec": pod_spec}},
            opts=child_opts(self, p, depends_on=deps))
        self.register_outputs({"namespace": NAMESPACE, "destination": f"{cluster.backup.bucket}/{cfg.collector.prefix}/"})
