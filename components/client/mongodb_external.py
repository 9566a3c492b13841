"""`lfh:client:ExternalMongoDB`: a managed MongoDB the apps use instead of the in-cluster replica set.

Nothing of the database runs here. The apps' MONGO_URI is built by the ExternalSecret from the user
and password an operator puts in the secret manager (`mongodb.external.credentialsSecret`, under this
environment's own path), always with `tls=true` and certificate verification on, so TLS cannot be
left out. The egress rule names the database's addresses and port only (Kubernetes NetworkPolicies
match addresses, not names; the hosts in the URI must resolve into `addresses`). Backups, point-in-time
recovery and restores of the data are the provider's: the stack's backups say so (see backups.py).
"""
from __future__ import annotations

from typing import Optional

import pulumi

from .contract import AppWiring, ClientContext, Workload
from .network import TO_EXTERNAL_PREFIX
from .secrets import ClientSecrets

#: The NetworkPolicy egress target of the external database (addresses/port from the config).
TO_EXTERNAL_MONGODB = f"{TO_EXTERNAL_PREFIX}mongodb"


class ExternalMongoDB(pulumi.ComponentResource):
    """The apps' wiring to a managed MongoDB: MONGO_URI over verified TLS, egress to its addresses only."""

    def __init__(self, name: str, ctx: ClientContext, secrets: ClientSecrets,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("lfh:client:ExternalMongoDB", name, None, opts)
        self.ctx = ctx
        self.config = ext = ctx.config.mongodb.external
        # The holder is created under this environment's path (platform key, the store's grant); the
        # operator adds {"username": …, "password": …}. The stack never writes or reads the value.
        remote = secrets.declare(ext.credentials_secret, "User of the client's apps on the external MongoDB "
                                                         "(JSON properties: username, password)")
        self.secret_data = {"mongoUsername": f"{remote}#username", "mongoPassword": f"{remote}#password"}
        self.hosts = [f"{h}:{ext.port}" for h in ext.hosts]
        self.workloads: list[Workload] = []
        self.wiring = self.wiring_for(ctx.config.mongodb.databases[0])
        self.register_outputs({"hosts": self.hosts, "addresses": list(ext.addresses)})

    def uri_template(self, database: str) -> str:
        ext = self.config
        options = {"tls": "true", "authSource": ext.auth_source,
                   **({"replicaSet": ext.replica_set} if ext.replica_set else {}), **ext.options}
        query = "&".join(f"{k}={v}" for k, v in options.items())
        # User and password are percent-encoded into the URI (Go's `urlquery`; the driver decodes them).
        return (f"mongodb://{{{{ .mongoUsername | urlquery }}}}:{{{{ .mongoPassword | urlquery }}}}"
                f"@{','.join(self.hosts)}/{database}?{query}")

    def wiring_for(self, database: str) -> AppWiring:
        """MONGO_URI for ``database`` with the external user."""
        return AppWiring(secret_env={"MONGO_URI": self.uri_template(database)},
                         secret_data=dict(self.secret_data), egress_to=[TO_EXTERNAL_MONGODB])
