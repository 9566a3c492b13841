"""A client environment: namespace baseline, apps, data services, routes, secrets, backups."""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from lfh.config import ClientConfig

from ..k8s import child_opts, labels, meta
from ..platform.contract import PlatformContract


class ClientEnvironment(pulumi.ComponentResource):
    """Everything one client+environment runs, in its own namespace."""

    def __init__(self, name: str, client: ClientConfig, platform: PlatformContract,
                 kubeconfig: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:ClientEnvironment", name, None, opts)
        self.namespace_name = f"{client.name}-{client.environment.value}"
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        common = labels(self.namespace_name, client=client.name, environment=client.environment.value)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=meta(self.namespace_name, labels={
                **common,
                platform.gateway.client_namespace_label: "true",
                # Pod Security "restricted" on all three modes: reject, audit and warn.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }),
            opts=child_opts(self, self.provider, protect=True, retain_on_delete=True),
        )
        self.register_outputs({"namespace": self.namespace_name})


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
    env = ClientEnvironment(f"{client.name}-{client.environment.value}", client, contract,
                            kubeconfig=pulumi.Output.secret(ref.require_output("kubeconfig")))
    pulumi.export("namespace", env.namespace_name)
    return env
