"""`lfh:platform.cluster`: which Kubernetes cluster a platform stack owns (issue: cloud clusters).

One model per target; `provider` selects it. Every field has a secure default and a one-line doc.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field

from .base import Quantity, Secret, StrictModel, field


class ExistingCluster(StrictModel):
    """A cluster someone else runs: we only connect to it and install the platform."""

    provider: Literal["existing"] = field("existing", "Selects an existing cluster (no cloud resources are created).")
    kubeconfig: Optional[Secret] = field(None, "Kubeconfig of the cluster, set with `pulumi config set --secret` (or use kubeconfigPath).")
    kubeconfig_path: Optional[str] = field(None, "Path to a kubeconfig file, when the kubeconfig is not stored in config.")
    context: Optional[str] = field(None, "Kubeconfig context to use; the file's current context when unset.")
    storage_class: str = field("standard", "Existing StorageClass for platform add-ons that need volumes before Longhorn is ready.")
    backup_endpoint: str = field("https://s3.example.internal", "S3-compatible endpoint for Velero/Longhorn backups.")
    backup_bucket: str = field("lfh-backups", "Bucket on the S3-compatible endpoint for backups.")
    backup_region: str = field("us-east-1", "Region name the S3-compatible endpoint expects.")


class AwsCluster(StrictModel):
    """EKS in its own VPC."""

    provider: Literal["aws"] = field("aws", "Selects AWS EKS.")
    region: str = field("us-east-1", "AWS region.")


class AzureCluster(StrictModel):
    """AKS in its own resource group and VNet."""

    provider: Literal["azure"] = field("azure", "Selects Azure AKS.")
    location: str = field("eastus2", "Azure region.")


class GcpCluster(StrictModel):
    """GKE in its own VPC."""

    provider: Literal["gcp"] = field("gcp", "Selects Google GKE.")
    project: str = field(..., "GCP project id.")
    region: str = field("us-central1", "GCP region.")


ClusterConfig = Annotated[
    Union[AwsCluster, AzureCluster, GcpCluster, ExistingCluster],
    Field(discriminator="provider"),
]
