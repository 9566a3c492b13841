"""`lfh:client:Search`: Typesense as our own StatefulSet (no maintained official chart exists).

Facts from ../shared/upstream/typesense/SOURCE.md: API 8108, Raft peering 8107, `--nodes` is a file
with one line `host:8107:8108,…` (hostnames ≤ 64 chars, re-read at run time), `/health` answers 503
while a node catches up — so readiness uses `/health` and liveness only checks the TCP port (an
HTTP liveness probe would restart pods during Raft catch-up).
"""
from __future__ import annotations

import hashlib
from typing import Optional

import pulumi

from lfh.config import names
from lfh.config.base import image_reference

from ..k8s import KubeObject, child_opts, labels, meta
from .contract import FROM_SELF, AppWiring, ClientContext, Workload
from .secrets import TYPESENSE_API_KEY, ClientSecrets

NAME = names.SEARCH_NAME
PEERS_SERVICE = "typesense-peers"
NODES_CONFIG = f"{NAME}-nodes"
API_PORT = 8108
PEERING_PORT = 8107
IMAGE = "typesense/typesense"
#: Typesense's image runs as root by default; we run it as this uid.
UID = 10000
MAX_PEER_HOSTNAME = 64


def nodes_line(namespace: str, replicas: int) -> str:
    """The `--nodes` file: every member by its stable headless-Service name."""
    hosts = [f"{NAME}-{i}.{PEERS_SERVICE}.{namespace}.svc.cluster.local" for i in range(replicas)]
    if any(len(h) > MAX_PEER_HOSTNAME for h in hosts):
        # Typesense drops longer names; the namespace-relative name resolves through the pod's search path.
        return local_nodes_line(replicas)
    return ",".join(f"{h}:{PEERING_PORT}:{API_PORT}" for h in hosts)


def local_nodes_line(replicas: int) -> str:
    """The `--nodes` file with namespace-relative names (they resolve in whatever namespace the pods run)."""
    return ",".join(f"{NAME}-{i}.{PEERS_SERVICE}:{PEERING_PORT}:{API_PORT}" for i in range(replicas))


class Search(pulumi.ComponentResource):
    """Typesense: StatefulSet + headless peering Service + client Service + nodes ConfigMap + PDB.

    Attributes: workloads, wiring (TYPESENSE_URL + TYPESENSE_API_KEY), statefulset, service_host.
    """

    def __init__(self, name: str, ctx: ClientContext, secrets: ClientSecrets,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("lfh:client:Search", name, None, opts)
        cfg = ctx.config.search
        ns = ctx.namespace
        common = dict(client=ctx.config.name, environment=ctx.environment, component="search")
        lbl = labels(NAME, **common)
        selector = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/instance": names.search_instance(ns)}
        pod_labels = {**lbl, **selector}
        storage_class = ctx.platform.storage_classes.get("encrypted") or ctx.platform.storage_classes.get("default", "")
        opts_ns = child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource])

        key_secret = f"{NAME}-api-key"
        es = secrets.external_secret(f"{name}-api-key", parent=self, target=key_secret,
                                     data={"api-key": secrets.remote_key(TYPESENSE_API_KEY)}, component="search")
        self.service_account = KubeObject(
            f"{name}-sa", "v1", "ServiceAccount", metadata=meta(NAME, ns, labels=lbl),
            automountServiceAccountToken=False, opts=opts_ns)

        nodes = nodes_line(ns, cfg.replicas)
        self.nodes_config = KubeObject(
            f"{name}-nodes", "v1", "ConfigMap", metadata=meta(NODES_CONFIG, ns, labels=lbl),
            data={"nodes": nodes}, opts=opts_ns)
        self.peers = KubeObject(
            f"{name}-peers", "v1", "Service",
            metadata=meta(PEERS_SERVICE, ns, labels=lbl),
            spec={
                "clusterIP": "None",
                # Members must resolve each other before they are ready (Raft bootstrap).
                "publishNotReadyAddresses": True,
                "selector": selector,
                "ports": [{"name": "peering", "port": PEERING_PORT, "targetPort": PEERING_PORT},
                          {"name": "http", "port": API_PORT, "targetPort": API_PORT}],
            },
            opts=opts_ns)
        self.service = KubeObject(
            f"{name}-service", "v1", "Service",
            metadata=meta(NAME, ns, labels=lbl),
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": API_PORT, "targetPort": API_PORT}]},
            opts=opts_ns)

        restricted = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                      "readOnlyRootFilesystem": True, "seccompProfile": {"type": "RuntimeDefault"}}
        affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                "labelSelector": {"matchLabels": selector}}},
            {"weight": 50, "podAffinityTerm": {"topologyKey": "topology.kubernetes.io/zone",
                                               "labelSelector": {"matchLabels": selector}}},
        ]}}
        self.statefulset = KubeObject(
            f"{name}-statefulset", "apps/v1", "StatefulSet",
            metadata=meta(NAME, ns, labels=lbl),
            spec={
                "replicas": cfg.replicas,
                "serviceName": PEERS_SERVICE,
                # All members start together so the first quorum can form.
                "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "RollingUpdate"},
                "selector": {"matchLabels": selector},
                # PVCs (the index) survive deleting or scaling down the StatefulSet.
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "template": {
                    "metadata": {"labels": pod_labels, "annotations": {
                        # Changing the member list rolls the pods (it is also re-read live).
                        "lfh.io/config-checksum": hashlib.sha256(nodes.encode()).hexdigest()[:16]}},
                    "spec": {
                        "serviceAccountName": NAME,
                        "automountServiceAccountToken": False,
                        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                                            "fsGroupChangePolicy": "OnRootMismatch",
                                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "affinity": affinity,
                        # A data service: on the db pool (its taint tolerated, its label selected).
                        **ctx.placement("db"),
                        "terminationGracePeriodSeconds": 60,
                        "containers": [{
                            "name": NAME,
                            "image": image_reference(IMAGE, cfg.image_tag),
                            "imagePullPolicy": "IfNotPresent",
                            "args": [
                                "--data-dir=/data",
                                f"--api-port={API_PORT}",
                                f"--peering-port={PEERING_PORT}",
                                # Raft advertises the pod IP (hostnames in the nodes file resolve to it).
                                "--peering-address=$(POD_IP)",
                                "--nodes=/etc/typesense/nodes",
                                "--reset-peers-on-error",
                            ],
                            "env": [
                                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                                {"name": "TYPESENSE_API_KEY",
                                 "valueFrom": {"secretKeyRef": {"name": key_secret, "key": "api-key"}}},
                            ],
                            "ports": [{"name": "http", "containerPort": API_PORT},
                                      {"name": "peering", "containerPort": PEERING_PORT}],
                            "readinessProbe": {"httpGet": {"path": "/health", "port": API_PORT},
                                               "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 3,
                                               "failureThreshold": 3},
                            "livenessProbe": {"tcpSocket": {"port": API_PORT}, "initialDelaySeconds": 30,
                                              "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
                            "startupProbe": {"tcpSocket": {"port": API_PORT}, "periodSeconds": 5,
                                             "failureThreshold": 60},
                            "resources": {"requests": {"cpu": cfg.cpu_request, "memory": cfg.memory},
                                          "limits": {"memory": cfg.memory}},
                            "securityContext": restricted,
                            "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                             {"name": "nodes", "mountPath": "/etc/typesense", "readOnly": True},
                                             {"name": "tmp", "mountPath": "/tmp"}],
                        }],
                        "volumes": [{"name": "nodes", "configMap": {"name": NODES_CONFIG}},
                                    {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
                    },
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data", "labels": lbl},
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                             "resources": {"requests": {"storage": cfg.volume_size}}},
                }],
            },
            opts=child_opts(self, ctx.provider,
                            depends_on=[ctx.namespace_resource, es, self.nodes_config, self.peers, self.service_account],
                            protect=True, retain_on_delete=True),
        )
        if cfg.replicas > 1:
            KubeObject(
                f"{name}-pdb", "policy/v1", "PodDisruptionBudget", metadata=meta(NAME, ns, labels=lbl),
                # Never lose quorum to a voluntary disruption.
                spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}},
                opts=opts_ns)

        self.service_host = f"{NAME}.{ns}.svc.cluster.local"
        self.workloads = [Workload(
            name=NAME, pod_labels=selector, ports=[API_PORT],
            # Raft on 8107; followers forward writes to the leader's API port.
            peer_ports=[PEERING_PORT, API_PORT], ingress_from=[FROM_SELF], tier="data")]
        self.wiring = AppWiring(
            env={"TYPESENSE_URL": f"http://{self.service_host}:{API_PORT}"},
            secret_env={"TYPESENSE_API_KEY": "{{ .typesenseApiKey }}"},
            secret_data={"typesenseApiKey": secrets.remote_key(TYPESENSE_API_KEY)},
            egress_to=[NAME],
        )
        self.register_outputs({"host": self.service_host, "replicas": cfg.replicas})
