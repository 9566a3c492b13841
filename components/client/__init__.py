"""A client environment: namespace baseline, data services, apps, routes, NetworkPolicies, backups, GitOps."""
from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from lfh.config import ClientConfig

from ..platform.contract import PlatformContract
from .apps import Apps
from .backups import Backups, backup_coverage
from .canary import BackupCanary, canary_enabled
from .contract import ClientContext, RouteSpec, Workload
from .gitops import GitOpsProject
from .namespace import NamespaceBaseline, namespace_name
from .network import NetworkPolicies, settings_for
from .routes import Routes


class ClientEnvironment(pulumi.ComponentResource):
    """Everything one client+environment runs, in its own namespace."""

    def __init__(self, name: str, client: ClientConfig, platform: PlatformContract,
                 kubeconfig: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:ClientEnvironment", name, None, opts)
        self.namespace_name = namespace_name(client)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self)
        self.baseline = NamespaceBaseline(f"{name}-baseline", client, platform, self.provider, opts=child)
        self.namespace = self.baseline.namespace
        ctx = ClientContext(config=client, platform=platform, provider=self.provider,
                            namespace=self.namespace_name, namespace_resource=self.namespace,
                            labels=self.baseline.labels)
        self.context = ctx

        # ---------------------------------------------------------------- data services
        workloads: list[Workload] = []
        routes: list[RouteSpec] = []
        secrets, services = _data_services(name, ctx, child)
        for svc in services.values():
            workloads += list(svc.workloads)
            routes += list(getattr(svc, "routes", None) or [])

        # ---------------------------------------------------------------- apps and routes
        self.apps = Apps(f"{name}-apps", ctx, secrets=secrets, services=services, opts=child)
        workloads = self.apps.workloads + workloads
        self.routes = Routes(f"{name}-routes", ctx, self.apps.routes + routes, opts=child)
        # Secret rotation, last step: drop the MongoDB app users of earlier rotations once every app runs
        # on the current one (Pulumi waits for the apps' rollouts: depends_on the Apps component).
        drop_old_users = getattr(services["mongodb"], "drop_old_users", None)
        if drop_old_users is not None:
            workloads.append(drop_old_users(after=[self.apps]))
        workloads += services["objectStorage"].drop_old_keys(after=[self.apps])  # MinIO's app key (minio mode)

        # ---------------------------------------------------------------- the restore drill's canary
        self.canary = None
        if canary_enabled(ctx):
            mongodb, objects = services["mongodb"], services["objectStorage"]
            self.canary = BackupCanary(f"{name}-canary", ctx, mongodb, objects, opts=child)
            workloads.append(self.canary.workload)

        # ---------------------------------------------------------------- derived isolation
        self.workloads = workloads
        self.network = NetworkPolicies(f"{name}-network", ctx, workloads, settings_for(ctx), opts=child)

        self.backups = Backups(f"{name}-backups", ctx, canary=self.canary, opts=child,
                               coverage=backup_coverage(ctx, services))
        if client.gitops.enabled:
            self.gitops = GitOpsProject(f"{name}-gitops", ctx, opts=child)
        self.register_outputs({"namespace": self.namespace_name})


def _data_services(name: str, ctx: ClientContext, opts: pulumi.ResourceOptions):
    """The data half: the namespace SecretStore + generated secrets, and the data services by the name
    apps use for them (`mongodb`: in-cluster or external, `objectStorage`, `search` when on)."""
    from .mongodb import MongoDB
    from .mongodb_external import ExternalMongoDB
    from .objectstore import ObjectStorage
    from .search import Search
    from .secrets import ClientSecrets

    secrets = ClientSecrets(f"{name}-secrets", ctx, opts)
    mongodb = ExternalMongoDB if ctx.config.mongodb.external else MongoDB
    services: dict[str, Any] = {"mongodb": mongodb(f"{name}-mongodb", ctx, secrets, opts),
                                "objectStorage": ObjectStorage(f"{name}-objectstorage", ctx, secrets, opts)}
    if ctx.config.search.enabled:
        services["search"] = Search(f"{name}-search", ctx, secrets, opts)
    return secrets, services


async def deploy_client(client: ClientConfig) -> ClientEnvironment:
    """Read the platform contract through a StackReference and deploy the client onto it.

    Async (run through ``pulumi.run``) because the contract's plain values decide what to build
    (which cloud adapter, whether monitoring exists), so they are awaited before any resource.
    """
    ref = pulumi.StackReference(client.platform_stack)
    outputs: dict = {}
    for name in PlatformContract.__dataclass_fields__:
        key = "".join(w.capitalize() if i else w for i, w in enumerate(name.split("_")))
        details = await ref.get_output_details(key)
        if details.value is not None:
            outputs[key] = details.value
    contract = PlatformContract.from_outputs(outputs)
    # --- client-data: config checks that need the platform kind, before any resource exists ---
    from .objectstore import check_cloud_bucket, resolve_mode

    resolve_mode(client, contract)  # e.g. `objectStorage.mode: cloud` on an existing cluster
    check_cloud_bucket(client, contract)  # access-log retention and a second copy the platform must offer
    # --- end client-data ---
    from .routes import check_challenge

    check_challenge(client, contract)  # e.g. `certificates.challenge: dns01-cname` on an HTTP-01-only platform
    env = ClientEnvironment(f"{client.name}-{client.environment.value}", client, contract,
                            kubeconfig=pulumi.Output.secret(ref.require_output("kubeconfig")))
    pulumi.export("namespace", env.namespace_name)
    pulumi.export("hostnames", sorted({r.hostname for r in env.apps.routes}))
    pulumi.export("backupCoverage", env.backups.coverage)
    # What the client creates in its own DNS for hostnames outside the platform's domains.
    pulumi.export("dnsRecords", env.routes.dns_records)
    return env
