"""lfh-infra Pulumi program: wiring only. The stack's config decides what this stack is:
a platform (one cluster and its core stack) or a client environment on a platform."""
from lfh.config import from_pulumi

config = from_pulumi()

if config.platform is not None:
    from components.cluster import create_cluster
    from components.platform import CorePlatform, export

    cluster = create_cluster(config.platform)
    core = CorePlatform("core", config.platform, cluster)
    export(core.contract, cluster.kubeconfig)
else:
    import pulumi

    from components.client import deploy_client

    async def client_program() -> None:
        await deploy_client(config.client)

    pulumi.run(client_program)
