"""GCP: Google service accounts bound through GKE Workload Identity, GCS buckets with the platform
CMK, Secret Manager secrets with secret-level IAM (IAM cannot grant on a name prefix without
conditions on project numbers; per-secret grants are explicit and auditable)."""
from __future__ import annotations

from typing import Any, Optional

import pulumi

from lfh.names import digest

from ..cluster.backup_keys import gcp_hmac_key
from ..cluster.contract import ServiceAccountBinding
from ..sdk import SdkResource
from .base import DATA_CLASSIFICATION, BackupTarget, BucketInfo, CloudAdapter


def _label(value: str) -> str:
    """GCP labels: lower-case letters, digits, '-' and '_' only."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in value.lower())[:63]


class GcpAdapter(CloudAdapter):
    kind = "gcp"

    def __init__(self, ctx, parent):
        super().__init__(ctx, parent)
        self.require("project", "region", "workloadIdentityPool", "kmsKeyId")
        self.project = str(self.cloud["project"])
        self.region = str(self.cloud["region"])

    @property
    def labels(self) -> dict[str, str]:
        return {_label(k.replace(":", "-")): _label(v) for k, v in self.tags.items()}

    def _make_provider(self):
        import pulumi_gcp as gcp

        return gcp.Provider(
            f"{self.prefix}-gcp",
            project=self.project,
            region=self.region,
            default_labels=self.labels,
            opts=pulumi.ResourceOptions(parent=self.parent),
        )

    # ------------------------------------------------------------------ identity
    def workload_identity(self, name: str, service_account: str, *, read_secret_prefix: Optional[str] = None,
                          bucket: Optional[BucketInfo] = None, drill_copy: bool = False) -> ServiceAccountBinding:
        ns = self.ctx.namespace
        account = SdkResource("gcp:serviceaccount/account:Account", f"{self.prefix}-{name}-gsa", {
            "accountId": self._account_id(name),
            "displayName": f"lfh {self.ctx.platform.platform} {ns}/{service_account}",
            "description": f"Workload identity of {ns}/{service_account}",
            "project": self.project,
        }, self.opts())
        SdkResource("gcp:serviceaccount/iAMMember:IAMMember", f"{self.prefix}-{name}-wi", {
            "serviceAccountId": account.name,
            "role": "roles/iam.workloadIdentityUser",
            # Exactly one Kubernetes service account of one namespace.
            "member": f"serviceAccount:{self.cloud['workloadIdentityPool']}[{ns}/{service_account}]",
        }, self.opts())
        if drill_copy:
            # The same service account in the restore drill's copy of the namespace.
            SdkResource("gcp:serviceaccount/iAMMember:IAMMember", f"{self.prefix}-{name}-drill-wi", {
                "serviceAccountId": account.name,
                "role": "roles/iam.workloadIdentityUser",
                "member": f"serviceAccount:{self.cloud['workloadIdentityPool']}[{self.ctx.drill_namespace}/{service_account}]",
            }, self.opts())
        binding = ServiceAccountBinding(
            namespace=ns, service_account=service_account,
            annotations={"iam.gke.io/gcp-service-account": account.email},
        )
        binding._member = account.email.apply(lambda e: f"serviceAccount:{e}")  # type: ignore[attr-defined]
        binding._name = name  # type: ignore[attr-defined]
        if read_secret_prefix:
            self.secret_readers.append(binding)
        if bucket is not None:
            SdkResource("gcp:storage/bucketIAMMember:BucketIAMMember", f"{self.prefix}-{name}-bucket-access", {
                "bucket": bucket.name,
                "role": "roles/storage.objectUser",
                "member": binding._member,  # type: ignore[attr-defined]
            }, self.opts())
        return binding

    def _account_id(self, name: str) -> str:
        """account_id: 6–30 chars; a hash keeps it unique per platform/client/env/name (lfh.names.digest)."""
        account_id = f"{name[:19].rstrip('-')}-{digest(f'{self.ctx.platform.platform}/{self.ctx.namespace}/{name}')}"
        return account_id if account_id[0].isalpha() else f"l{account_id[1:]}"

    # ------------------------------------------------------------------ buckets
    def bucket(self, name: str, *, noncurrent_version_days: int = 30, replicate: bool = False) -> BucketInfo:
        bucket_name = self.short_name(self.ctx.platform.platform, self.ctx.config.name, self.ctx.environment, name, limit=63)
        prefix = str((self.cloud.get("accessLogs") or {}).get("bucketPrefix") or "")
        if not bucket_name.startswith(prefix):
            # The platform's log sink keeps the data-access logs of buckets named `<prefix>…` only.
            raise pulumi.RunError(f"bucket {bucket_name} is outside the platform's access-log prefix {prefix!r}")
        if replicate:
            # No GCP platform offers a second region yet (`check_cloud_bucket` refuses it before this point).
            raise pulumi.RunError(f"bucket {bucket_name}: replication is not built on GCP platforms")
        bucket = SdkResource("gcp:storage/bucket:Bucket", f"{self.prefix}-{name}", {
            "name": bucket_name,
            "project": self.project,
            "location": self.region.upper(),
            "forceDestroy": False,
            "uniformBucketLevelAccess": True,
            # No allUsers/allAuthenticatedUsers grants, whatever IAM says later.
            "publicAccessPrevention": "enforced",
            "versioning": {"enabled": True},
            "encryption": {"defaultKmsKeyName": str(self.cloud["kmsKeyId"])},
            "lifecycleRules": [{"action": {"type": "Delete"},
                                "condition": {"daysSinceNoncurrentTime": noncurrent_version_days, "withState": "ARCHIVED"}}],
            # Where the bucket's access logs are (the platform's data-access sink): for the auditor and the policy pack.
            "labels": {**self.labels, **DATA_CLASSIFICATION, "lfh-access-logs": "cloud-audit-logs"},
            # GCS serves its JSON/XML APIs over HTTPS only: there is no plaintext endpoint to deny.
        }, self.opts(protect=True, retain=True))
        return BucketInfo(name=bucket.name, region=self.region, endpoint="https://storage.googleapis.com",
                          public_url=bucket.name.apply(lambda b: f"https://storage.googleapis.com/{b}"),
                          resource=bucket, api="gcs", app_env={"GOOGLE_CLOUD_PROJECT": self.project})

    # ------------------------------------------------------------------ secrets
    def _secret_id(self, key: str) -> str:
        # Secret ids allow [A-Za-z0-9_-]; '__' stands for '/' (DNS labels never contain '_').
        return self.secret_path(key).replace("/", "__")

    def remote_key(self, key: str) -> str:
        return self._secret_id(key)

    def _secret(self, key: str) -> pulumi.Resource:
        secret = SdkResource("gcp:secretmanager/secret:Secret", f"{self.prefix}-{key}", {
            "secretId": self._secret_id(key),
            "project": self.project,
            # One replica in the platform region, encrypted with the platform CMK.
            "replication": {"userManaged": {"replicas": [{
                "location": self.region,
                "customerManagedEncryption": {"kmsKeyName": str(self.cloud["kmsKeyId"])},
            }]}},
            "labels": {**self.labels, **DATA_CLASSIFICATION},
            "deletionProtection": True,
        }, self.opts(protect=True))
        for reader in self.secret_readers:
            SdkResource("gcp:secretmanager/secretIamMember:SecretIamMember",
                        f"{self.prefix}-{key}-reader-{reader._name}", {  # type: ignore[attr-defined]
                "project": self.project,
                "secretId": secret.secretId,
                "role": "roles/secretmanager.secretAccessor",
                "member": reader._member,  # type: ignore[attr-defined]
            }, self.opts())
        return secret

    def declare_secret(self, key: str, description: str) -> pulumi.Resource:
        # No version: an operator adds one (`gcloud secrets versions add`); the grant is already there.
        return self._secret(key)

    def write_secret(self, key: str, value: pulumi.Input[str]) -> pulumi.Resource:
        secret = self._secret(key)
        SdkResource("gcp:secretmanager/secretVersion:SecretVersion", f"{self.prefix}-{key}-value", {
            "secret": secret.id,
            "secretData": pulumi.Output.secret(value),
        }, self.opts(protect=True, additional_secret_outputs=["secretData"]))
        return secret

    def secret_store_provider(self, binding: ServiceAccountBinding) -> dict[str, Any]:
        return {"gcpsm": {
            "projectID": self.project,
            "auth": {"workloadIdentity": {"serviceAccountRef": {"name": binding.service_account}}},
        }}

    # ------------------------------------------------------------------ backups
    def backup_target(self, service: str, binding: Optional[ServiceAccountBinding]) -> Optional[BackupTarget]:
        bucket = self.platform_backups().get("bucket")
        if not bucket:
            return None
        # Percona Backup for MongoDB (operator 1.22) reads GCS credentials from a secret: HMAC keys as
        # AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (components/cluster/backup_keys.py). They belong to a
        # service account of this environment's backups alone, allowed its own prefix of the bucket.
        prefix = self.backup_prefix(service)
        account = SdkResource("gcp:serviceaccount/account:Account", f"{self.prefix}-{service}-backup-gsa", {
            "accountId": self._account_id(f"{service}-backup"),
            "displayName": f"lfh {self.ctx.platform.platform} {self.ctx.namespace} {service} backups",
            "description": f"HMAC key holder for {self.ctx.namespace}'s {service} backups",
            "project": self.project,
        }, self.opts())
        SdkResource("gcp:storage/bucketIAMMember:BucketIAMMember", f"{self.prefix}-{service}-backup-access", {
            "bucket": bucket,
            "role": "roles/storage.objectUser",
            "member": account.email.apply(lambda e: f"serviceAccount:{e}"),
            # Objects under the prefix, and listing with that prefix (storage.objects.list is checked on
            # the bucket; IAM Conditions attribute `storage.googleapis.com/objectListPrefix`).
            "condition": {"title": f"{service}-backups-{self.ctx.namespace}"[:100],
                          "description": f"{prefix}/ only",
                          "expression": (f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}/") || '
                                         f'(resource.name == "projects/_/buckets/{bucket}" && api.getAttribute('
                                         f'"storage.googleapis.com/objectListPrefix", "").startsWith("{prefix}/"))')},
        }, self.opts())
        _, key = gcp_hmac_key(self.parent, f"{self.prefix}-{service}-backup-hmac", service_account_email=account.email,
                              project=self.project, provider=self.provider())
        return BackupTarget(
            storage={"type": "gcs", "gcs": {
                "bucket": bucket,
                "prefix": prefix,
                "credentialsSecret": f"{service}-backup-credentials",
            }},
            credentials={"AWS_ACCESS_KEY_ID": key["accessKeyId"], "AWS_SECRET_ACCESS_KEY": key["secretAccessKey"]},
            key_kind="gcs",
        )
