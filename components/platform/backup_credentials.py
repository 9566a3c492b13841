"""Credentials of the platform's key-based backup tools: the key comes from the cluster target (stored
HMAC/account key), from this stack (a generated key pair for an S3-compatible endpoint), or from an
operator; External Secrets syncs it from the platform secret store into the tool's namespace."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi

from ..cluster.backup_keys import s3_key_pair
from ..cluster.contract import KeyedTarget
from .secrets import Secrets

#: Annotations the plan's backup-credentials check reads on a tool's ExternalSecret.
SECRET_PATH_ANNOTATION = "lfh.io/backup-secret-path"
ACCOUNT_ANNOTATION = "lfh.io/backup-storage-account"
TOOL_ANNOTATION = "lfh.io/backup-tool"


def keyed_secret(owner: pulumi.Resource, provider: pulumi.ProviderResource, secrets: Secrets, tool: str,
                 target: KeyedTarget, *, suffix: str, name: str, namespace: str, keys: Mapping[str, str],
                 template: Optional[dict[str, Any]] = None, depends_on: Sequence[pulumi.Resource] = (),
                 ) -> Optional[pulumi.Resource]:
    """The ExternalSecret ``namespace/name`` (resource ``suffix``) holding ``tool``'s key:
    {secret key: stored property}."""
    if target.source == "generate":
        # The endpoint (an in-cluster store, or its operator) creates a user for the stored key pair,
        # allowed `target.bucket` only (docs/backup-restore.md, "Existing clusters").
        secrets.store_generated(owner, target.secret_path, s3_key_pair(owner, f"{owner._name}-{tool}-key"),  # type: ignore[attr-defined]
                                what=f"{tool}'s S3 key pair")
    elif target.source == "operator":
        pulumi.log.warn(
            f"{tool} authenticates to the backup endpoint with a key pair an operator provides: store it at "
            f"{secrets.remote_name(target.secret_path)} (properties: {', '.join(target.properties)}) before `pulumi up`",
            owner)
    annotations: dict[str, Any] = {TOOL_ANNOTATION: tool, SECRET_PATH_ANNOTATION: target.secret_path}
    if target.account:
        annotations[ACCOUNT_ANNOTATION] = target.account
    return secrets.external_secret(
        owner, provider, suffix, name=name, namespace=namespace, target=name,
        data={key: (target.secret_path, prop) for key, prop in keys.items()}, template=template,
        depends_on=depends_on, annotations=annotations)
