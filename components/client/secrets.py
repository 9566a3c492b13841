"""`lfh:client:ClientSecrets`: the namespace SecretStore and every secret the stack can generate.

- The SecretStore authenticates as its own ServiceAccount, bound (through the cloud adapter) to an
  identity that may read only `<platform>/<client>/<env>/*` — staging and production have different
  paths and different identities, so neither can read the other's secrets (LESSONS.md).
- Generated secrets (MongoDB users and encryption key, MinIO credentials, JWT secret, Typesense
  key) come from `pulumi_random`, are written to the cloud secret manager (platform KMS key) by the
  adapter, and reach pods only through ExternalSecrets. They are Pulumi secrets end to end: never in
  Git, never plaintext in state outputs or stack outputs.
- Rotation (HIPAA 164.308(a)(5)(ii)(D)): one `time.Rotating` per environment (`secrets.rotationDays`,
  default 90) is the keeper of every rotating password (all but `NOT_ROTATED`), so the first `pulumi up` after the
  period replaces them. Objects that carry rotated values are named after the rotation (`generation`,
  `r<unix time>`): a consumer of the new name cannot start before External Secrets has created it with
  the new value, so no pod ever starts with a stale one (docs/hipaa.md: the order for MongoDB users).
"""
from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from ..cloud import adapter_for
from ..cloud.base import CloudAdapter
from ..cluster.contract import ServiceAccountBinding
from ..k8s import KubeObject, child_opts, labels, meta
from ..sdk import SdkResource
from .contract import AppWiring, ClientContext

#: External Secrets API (2.x serves only v1).
ESO_API = "external-secrets.io/v1"
STORE_NAME = "lfh-secret-store"
STORE_SERVICE_ACCOUNT = "lfh-secret-store"

#: Keys of generated secrets (the last segment of `<platform>/<client>/<env>/<key>`).
JWT_SECRET = "jwt-secret"
MONGODB_ENCRYPTION_KEY = "mongodb-encryption-key"
#: Percona system users (fixed names, generated passwords); key -> user name.
MONGODB_SYSTEM_USERS = {
    "mongodb-backup-password": "backup",
    "mongodb-databaseadmin-password": "databaseAdmin",
    "mongodb-clusteradmin-password": "clusterAdmin",
    "mongodb-clustermonitor-password": "clusterMonitor",
    "mongodb-useradmin-password": "userAdmin",
}
MINIO_ROOT_PASSWORD = "minio-root-password"
MINIO_APP_SECRET_KEY = "minio-app-secret-key"
TYPESENSE_API_KEY = "typesense-api-key"
#: What never rotates, and why: the data-at-rest key (data written with it would become unreadable),
#: the operator-managed MongoDB system users and MinIO's root (their owners restart on a change),
#: the Typesense bootstrap key (the cluster only reads it at first start).
NOT_ROTATED = {MONGODB_ENCRYPTION_KEY: "encrypts data at rest", MINIO_ROOT_PASSWORD: "MinIO root (restart)",
               TYPESENSE_API_KEY: "Typesense bootstrap key", **{k: "operator system user" for k in MONGODB_SYSTEM_USERS}}
#: Key of the rotation in `ClientContext.extra`: the generation string (`r<unix>`), an Output.
ROTATION = "rotation"


def rotated(key: str) -> bool:
    """Whether the generated secret ``key`` rotates (JWT secret, MongoDB app users, MinIO app key)."""
    return key not in NOT_ROTATED


def generation_name(base: str, generation: pulumi.Input[str]) -> pulumi.Output[str]:
    """`<base>-<generation>`: the name of an object that carries a rotated value."""
    return pulumi.Output.concat(base, "-", generation)


def mongodb_app_password_key(database: str) -> str:
    return f"mongodb-app-{database}-password"


def minio_mode(ctx: ClientContext) -> bool:
    """Whether object storage runs as MinIO here (explicit mode, else the platform's default)."""
    from .objectstore import object_storage_mode

    return object_storage_mode(ctx) == "minio"


class ClientSecrets(pulumi.ComponentResource):
    """The namespace SecretStore, its scoped identity, and the generated secrets.

    Attributes:
      prefix: `<platform>/<client>/<env>` — the only path this environment's identity may read.
      store_name / store_kind: what ExternalSecrets put in `secretStoreRef`.
      store: the SecretStore object; binding: its ServiceAccountBinding; adapter: the cloud adapter.
      generated: key -> secret Output of every generated value.
      written: key -> cloud secret resource; ready: what an ExternalSecret must wait for.
      wiring: AppWiring with JWT_SECRET (HapiHub and Syncd share it).
    """

    def __init__(self, name: str, ctx: ClientContext, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("lfh:client:ClientSecrets", name, None, opts)
        self.ctx = ctx
        self.name = name
        self.prefix = ctx.secret_prefix
        self.store_name = STORE_NAME
        self.store_kind = "SecretStore"
        cfg = ctx.config
        self.adapter: CloudAdapter = adapter_for(ctx, self)
        ns = ctx.namespace
        self._labels = labels(STORE_NAME, client=cfg.name, environment=ctx.environment, component="secrets")

        # --- the store's identity: reads <prefix>/* and nothing else
        self.binding: ServiceAccountBinding = self.adapter.workload_identity(
            "secret-store", STORE_SERVICE_ACCOUNT, read_secret_prefix=self.prefix)
        self.service_account = KubeObject(
            f"{name}-store-sa", "v1", "ServiceAccount",
            metadata=meta(STORE_SERVICE_ACCOUNT, ns, labels={**self._labels, **self.binding.pod_labels},
                          annotations=self.binding.annotations or None),
            # Only External Secrets uses this account (through TokenRequest); no pod mounts it.
            automountServiceAccountToken=False,
            opts=child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource]),
        )

        # --- rotation: the keeper of every rotated password (a new base time every `rotationDays`)
        import pulumiverse_time as time  # only client stacks need it

        self.rotation = time.Rotating(f"{name}-rotation", rotation_days=cfg.secrets.rotation_days,
                                      opts=pulumi.ResourceOptions(parent=self))
        #: `r<unix seconds>` of the current rotation: names of objects that carry rotated values.
        self.generation: pulumi.Output[str] = self.rotation.unix.apply(lambda u: f"r{int(u)}")
        ctx.extra[ROTATION] = self.generation

        # --- generated secrets
        self.generated: dict[str, pulumi.Output[str]] = {}
        self.written: dict[str, pulumi.Resource] = {}
        length = cfg.secrets.password_length
        from .canary import CANARY_DATABASE, canary_enabled

        keys = [JWT_SECRET]
        if cfg.mongodb.external is None:
            # The in-cluster replica set's users (and the backup canary's); an external database's
            # credentials are the provider's.
            databases = [*cfg.mongodb.databases, *([CANARY_DATABASE] if canary_enabled(ctx) else [])]
            keys += [*MONGODB_SYSTEM_USERS, *(mongodb_app_password_key(db) for db in databases)]
        if minio_mode(ctx):
            keys += [MINIO_ROOT_PASSWORD, MINIO_APP_SECRET_KEY]
        if cfg.search.enabled:
            keys.append(TYPESENSE_API_KEY)
        for key in keys:
            self._generate(key, length)
        if cfg.mongodb.external is None:
            # The data-at-rest key: 32 random bytes, base64 (what mongod's keyfile expects).
            key_bytes = SdkResource("random:index/randomBytes:RandomBytes", f"{name}-{MONGODB_ENCRYPTION_KEY}", {"length": 32},
                                    pulumi.ResourceOptions(parent=self, additional_secret_outputs=["base64", "hex"]))
            self._store(MONGODB_ENCRYPTION_KEY, pulumi.Output.secret(key_bytes.base64))

        # --- the namespace SecretStore
        self.store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version=ESO_API,
            kind="SecretStore",
            metadata=meta(STORE_NAME, ns, labels=self._labels),
            spec={"provider": self.adapter.secret_store_provider(self.binding)},
            opts=child_opts(self, ctx.provider, depends_on=[self.service_account, ctx.namespace_resource]),
        )
        self.ready: list[pulumi.Resource] = [self.store, *self.written.values()]
        ctx.extra.setdefault("secrets", []).extend(self.ready)

        self.wiring = AppWiring(
            secret_env={"JWT_SECRET": "{{ .jwtSecret }}"},
            secret_data={"jwtSecret": self.remote_key(JWT_SECRET)},
        )
        self.register_outputs({"prefix": self.prefix, "store": self.store_name,
                               "keys": sorted(self.written)})

    # ------------------------------------------------------------------ generation
    def _generate(self, key: str, length: int) -> None:
        props: dict[str, Any] = {
            "length": length,
            # Letters and digits only: values go into URIs and Go templates unescaped.
            "special": False,
            "minLower": 4, "minUpper": 4, "minNumeric": 4,
        }
        if rotated(key):
            # A new rotation base time replaces the password (keepers changed): a new value.
            props["keepers"] = {"rotation": self.rotation.rfc3339}
        password = SdkResource("random:index/randomPassword:RandomPassword", f"{self.name}-{key}", props,
                               pulumi.ResourceOptions(parent=self, additional_secret_outputs=["result", "bcryptHash"]))
        self._store(key, pulumi.Output.secret(password.result))

    def _store(self, key: str, value: pulumi.Output[str]) -> None:
        self.generated[key] = value
        self.written[key] = self.adapter.write_secret(key, value)

    # ------------------------------------------------------------------ for consumers
    def write(self, key: str, value: pulumi.Input[str]) -> str:
        """Store a value the stack made (a backup key) under this environment's path; its remote key."""
        if key not in self.written:
            self._store(key, pulumi.Output.secret(value))
            self.ready.append(self.written[key])
            self.ctx.extra.setdefault("secrets", []).append(self.written[key])
        return self.adapter.remote_key(key)

    def declare(self, key: str, description: str) -> str:
        """A hand-filled secret under this environment's path (created empty, readable by the store);
        returns its remote name for `dataFrom.extract`."""
        if key not in self.written:
            self.written[key] = self.adapter.declare_secret(key, description)
            self.ready.append(self.written[key])
            self.ctx.extra.setdefault("secrets", []).append(self.written[key])
        return self.adapter.remote_name(key)

    def remote_key(self, key: str) -> str:
        """The remote key (for `AppWiring.secret_data`) of a secret in this environment's path."""
        return self.adapter.remote_key(key)

    def app_wiring(self, app: str, secret_env: dict[str, str]) -> AppWiring:
        """An app's `secretEnv` (`VAR: name[/property]`, relative to this environment's path): each named
        secret gets its holder (unless the stack generates it), each variable an ExternalSecret key."""
        data: dict[str, str] = {}
        for var, ref in sorted(secret_env.items()):
            key, _, prop = ref.partition("/")
            what = f"{var} of {app}" + (f" (JSON property {prop!r})" if prop else "")
            remote = self.declare(key, f"Set by an operator for {self.ctx.namespace}: {what}")
            data[var] = f"{remote}#{prop}" if prop else self.remote_key(key)
        return AppWiring(secret_env={var: "{{ ." + var + " }}" for var in data}, secret_data=data)

    def path(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def external_secret(self, name: str, *, parent: pulumi.Resource, target: pulumi.Input[str],
                        data: dict[str, str], template: Optional[dict[str, str]] = None,
                        extract: Optional[str] = None, component: str = "secrets",
                        owner: str = "Owner") -> k8s.apiextensions.CustomResource:
        """An ExternalSecret in the client namespace that builds Secret ``target``.

        ``data``: secretKey -> remote key ("name" or "name#property"); ``template``: Secret data
        key -> Go template over those secretKeys; ``extract``: a remote key whose JSON properties
        all become keys (credentials handed over by the platform team).
        """
        spec: dict[str, Any] = {
            "refreshInterval": self.ctx.config.secrets.refresh_interval,
            "secretStoreRef": {"name": self.store_name, "kind": self.store_kind},
            "target": {"name": target, "creationPolicy": owner, "deletionPolicy": "Retain"},
        }
        if data:
            spec["data"] = [_data_entry(k, v) for k, v in data.items()]
        if extract:
            spec["dataFrom"] = [{"extract": {"key": extract}}]
        if template:
            spec["target"]["template"] = {"engineVersion": "v2", "type": "Opaque", "data": template}
        lbl = labels(target, client=self.ctx.config.name, environment=self.ctx.environment, component=component)
        return k8s.apiextensions.CustomResource(
            name,
            api_version=ESO_API,
            kind="ExternalSecret",
            metadata=meta(target, self.ctx.namespace, labels=lbl),
            spec=spec,
            opts=child_opts(parent, self.ctx.provider, depends_on=self.ready),
        )


def _data_entry(secret_key: str, remote: str) -> dict[str, Any]:
    key, _, prop = remote.partition("#")
    ref: dict[str, Any] = {"key": key}
    if prop:
        ref["property"] = prop
    return {"secretKey": secret_key, "remoteRef": ref}

