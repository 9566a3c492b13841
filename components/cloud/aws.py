"""AWS: IRSA roles, S3 buckets with the platform CMK, Secrets Manager entries."""
from __future__ import annotations

import json
from typing import Any, Optional

import pulumi

from ..cluster.contract import ServiceAccountBinding
from ..sdk import SdkResource
from .base import DATA_CLASSIFICATION, BackupTarget, BucketInfo, CloudAdapter


class AwsAdapter(CloudAdapter):
    kind = "aws"

    def __init__(self, ctx, parent):
        super().__init__(ctx, parent)
        self.require("region", "accountId", "oidcProviderArn", "oidcIssuer", "kmsKeyId")
        self.region = str(self.cloud["region"])
        self.account = str(self.cloud["accountId"])
        self.partition = str(self.cloud.get("partition") or "aws")
        # IAM conditions use the issuer without its scheme.
        self.issuer = str(self.cloud["oidcIssuer"]).removeprefix("https://")
        self._roles: dict[str, Any] = {}

    def _make_provider(self):
        import pulumi_aws as aws

        return aws.Provider(
            f"{self.prefix}-aws",
            region=self.region,
            # Refuse to run against any other account than the platform's (a wrong profile fails fast).
            allowed_account_ids=[self.account],
            default_tags={"tags": self.tags},
            opts=pulumi.ResourceOptions(parent=self.parent),
        )

    @property
    def kms_key_arn(self) -> str:
        key = str(self.cloud["kmsKeyId"])
        if key.startswith("arn:"):
            return key
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{key}"

    # ------------------------------------------------------------------ identity
    def workload_identity(self, name: str, service_account: str, *, read_secret_prefix: Optional[str] = None,
                          bucket: Optional[BucketInfo] = None, drill_copy: bool = False) -> ServiceAccountBinding:
        ns = self.ctx.namespace
        subjects = [f"system:serviceaccount:{n}:{service_account}"
                    for n in ([ns, self.ctx.drill_namespace] if drill_copy else [ns])]
        trust = {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": self.cloud["oidcProviderArn"]},
                "Action": "sts:AssumeRoleWithWebIdentity",
                # One service account of this namespace (and of the drill's copy when asked), and
                # only tokens minted for STS.
                "Condition": {"StringEquals": {
                    f"{self.issuer}:sub": subjects if drill_copy else subjects[0],
                    f"{self.issuer}:aud": "sts.amazonaws.com",
                }},
            }],
        }
        role = SdkResource("aws:iam/role:Role", f"{self.prefix}-{name}-role", {
            # Explicit and within IAM's 64 characters (auto-naming would add 8 to a long logical name);
            # the platform in it keeps two platforms in one account apart.
            "name": self.short_name(self.ctx.platform.platform, ns, name, limit=64),
            "description": f"IRSA for {ns}/{service_account} (lfh {self.ctx.platform.platform})",
            "assumeRolePolicy": json.dumps(trust),
            "maxSessionDuration": 3600,
            "tags": self.tags,
        }, self.opts())
        self._roles[name] = role
        statements: list[Any] = []
        if read_secret_prefix:
            statements += [
                {
                    "Sid": "ReadOwnSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    # The trailing "/*" keeps `acme/prod` from matching `acme/production-x`.
                    "Resource": f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:secret:{read_secret_prefix}/*",
                },
                {
                    "Sid": "DecryptOwnSecrets",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt"],
                    "Resource": self.kms_key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{self.region}.amazonaws.com"}},
                },
            ]
        if bucket is not None:
            statements = statements + [
                {"Sid": "ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                 "Resource": "BUCKET_ARN"},
                {"Sid": "ObjectsInBucket", "Effect": "Allow",
                 "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                            "s3:ListMultipartUploadParts", "s3:GetObjectVersion"],
                 "Resource": "BUCKET_ARN/*"},
                {"Sid": "UseBucketKey", "Effect": "Allow",
                 "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"], "Resource": self.kms_key_arn,
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}}},
            ]
        if statements:
            bucket_name = pulumi.Output.from_input(bucket.name if bucket is not None else "")
            policy = bucket_name.apply(lambda b: json.dumps({
                "Version": "2012-10-17",
                "Statement": statements,
            }).replace("BUCKET_ARN", f"arn:{self.partition}:s3:::{b}"))
            SdkResource("aws:iam/rolePolicy:RolePolicy", f"{self.prefix}-{name}-policy",
                        {"role": role.id, "policy": policy}, self.opts())
        return ServiceAccountBinding(
            namespace=ns,
            service_account=service_account,
            annotations={"eks.amazonaws.com/role-arn": role.arn},
        )

    # ------------------------------------------------------------------ buckets
    def bucket(self, name: str, *, noncurrent_version_days: int = 30, replicate: bool = False) -> BucketInfo:
        bucket_name = self.short_name(self.ctx.platform.platform, self.ctx.config.name, self.ctx.environment, name, limit=63)
        logs = self.cloud.get("accessLogs") or {}
        prefix = str(logs.get("bucketPrefix") or "")
        if not bucket_name.startswith(prefix):
            # The platform's CloudTrail records S3 data events of buckets named `<prefix>…` only.
            raise pulumi.RunError(f"bucket {bucket_name} is outside the platform trail's prefix {prefix!r}: its access "
                                  "would not be recorded")
        # Where the bucket's access logs are (the platform's trail): for the auditor and the policy pack.
        self.access_log_tag = {"lfh:access-logs": f"cloudtrail/{logs.get('trail') or ''}"}
        bucket = self._s3_bucket(name, bucket_name, self.kms_key_arn, noncurrent_version_days)
        if replicate:
            self._replica(name, bucket, bucket_name, noncurrent_version_days)
        return BucketInfo(
            name=bucket.bucket,
            region=self.region,
            endpoint=f"https://s3.{self.region}.amazonaws.com",
            public_url=bucket.bucketRegionalDomainName.apply(lambda d: f"https://{d}"),
            resource=bucket,
        )

    def _s3_bucket(self, name: str, bucket_name: str, key_arn: str, noncurrent_version_days: int,
                   region: Optional[str] = None) -> SdkResource:
        """A bucket and its settings (same ones in the platform region and, for a replica, in ``region``)."""
        where = {"region": region} if region else {}
        data_opts = self.opts(protect=True, retain=True)
        bucket = SdkResource("aws:s3/bucket:Bucket", f"{self.prefix}-{name}", {
            "bucket": bucket_name,
            # Never empty a bucket of patient files by deleting the stack.
            "forceDestroy": False,
            "tags": {**self.tags, **DATA_CLASSIFICATION, **self.access_log_tag},
            **where,
        }, data_opts)
        child = self.opts(protect=True, retain=True, depends_on=[bucket])
        s3 = "aws:s3/"
        SdkResource(f"{s3}bucketOwnershipControls:BucketOwnershipControls", f"{self.prefix}-{name}-ownership", {
            "bucket": bucket.id,
            # ACLs off: access is decided by IAM and the bucket policy only.
            "rule": {"objectOwnership": "BucketOwnerEnforced"},
            **where,
        }, child)
        SdkResource(f"{s3}bucketPublicAccessBlock:BucketPublicAccessBlock", f"{self.prefix}-{name}-public-access", {
            "bucket": bucket.id, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
            "restrictPublicBuckets": True, **where,
        }, child)
        versioning = SdkResource(f"{s3}bucketVersioning:BucketVersioning", f"{self.prefix}-{name}-versioning", {
            "bucket": bucket.id,
            # Overwrites and deletes stay recoverable (ransomware, app bugs).
            "versioningConfiguration": {"status": "Enabled"},
            **where,
        }, child)
        bucket.lfh_versioning = versioning  # type: ignore[attr-defined]  # replication waits for it
        SdkResource(f"{s3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                    f"{self.prefix}-{name}-sse", {
            "bucket": bucket.id,
            "rules": [{
                "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn},
                "bucketKeyEnabled": True,
            }],
            **where,
        }, child)
        # Object events (deletes above all) to EventBridge's default bus, where an alert rule can watch them.
        SdkResource(f"{s3}bucketNotification:BucketNotification", f"{self.prefix}-{name}-events", {
            "bucket": bucket.id, "eventbridge": True, **where,
        }, child)
        SdkResource(f"{s3}bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{self.prefix}-{name}-lifecycle", {
            "bucket": bucket.id,
            "rules": [{"id": "expire-noncurrent", "status": "Enabled", "filter": {},
                       "noncurrentVersionExpiration": {"noncurrentDays": noncurrent_version_days},
                       "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}],
            **where,
        }, child)
        SdkResource(f"{s3}bucketPolicy:BucketPolicy", f"{self.prefix}-{name}-tls-only", {
            "bucket": bucket.id,
            "policy": bucket.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                    {"Sid": "DenyOldTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": [arn, f"{arn}/*"], "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
                ],
            })),
            **where,
        }, child)
        return bucket

    def _replica(self, name: str, source: SdkResource, source_name: str, noncurrent_version_days: int) -> None:
        """A copy in the platform's second region under its key there (a KMS key serves one region), fed by S3
        replication (S3 user guide, "Replicating objects": both buckets versioned, the role may read the source
        versions, decrypt with the source key and encrypt with the replica's). Deletes are not replicated."""
        rep = self.cloud["replication"]
        region, replica_key = str(rep["region"]), str(rep["kmsKeyId"])
        replica_name = self.short_name(source_name, "replica", limit=63)
        replica = self._s3_bucket(f"{name}-replica", replica_name, replica_key, noncurrent_version_days, region=region)
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
            # Confused-deputy guard: S3 acting for this account only.
            "Condition": {"StringEquals": {"aws:SourceAccount": self.account}}}]}
        role = SdkResource("aws:iam/role:Role", f"{self.prefix}-{name}-replication-role", {
            # Explicit and within IAM's 64 characters, like the IRSA roles (auto-naming adds 8).
            "name": self.short_name(self.ctx.platform.platform, self.ctx.namespace, f"{name}-repl", limit=64),
            "description": f"S3 replication of {source_name} into {region}",
            "assumeRolePolicy": json.dumps(trust),
            "tags": self.tags,
        }, self.opts())
        src, dst = f"arn:{self.partition}:s3:::{source_name}", f"arn:{self.partition}:s3:::{replica_name}"
        policy = SdkResource("aws:iam/rolePolicy:RolePolicy", f"{self.prefix}-{name}-replication-policy", {
            "role": role.id,
            "policy": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": src},
                {"Effect": "Allow", "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                               "s3:GetObjectVersionTagging"], "Resource": f"{src}/*"},
                {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateTags"], "Resource": f"{dst}/*"},
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": self.kms_key_arn,
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}}},
                {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": replica_key,
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
            ]}),
        }, self.opts())
        SdkResource("aws:s3/bucketReplicationConfig:BucketReplicationConfig", f"{self.prefix}-{name}-replication", {
            "bucket": source.id,
            "role": role.arn,
            "rules": [{
                "id": "second-region", "status": "Enabled", "filter": {},
                # A delete in the source (a compromised app) does not reach the copy.
                "deleteMarkerReplication": {"status": "Disabled"},
                "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                "destination": {"bucket": replica.arn, "encryptionConfiguration": {"replicaKmsKeyId": replica_key}},
            }],
        }, self.opts(protect=True, retain=True, depends_on=[
            source.lfh_versioning, replica.lfh_versioning, policy]))  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ secrets
    def remote_key(self, key: str) -> str:
        return self.secret_path(key)

    def write_secret(self, key: str, value: pulumi.Input[str]) -> pulumi.Resource:
        secret = self.declare_secret(key, f"Generated by lfh for {self.ctx.namespace}; synced by External Secrets")
        SdkResource("aws:secretsmanager/secretVersion:SecretVersion", f"{self.prefix}-{key}-value", {
            "secretId": secret.id,
            "secretString": pulumi.Output.secret(value),
        }, self.opts(protect=True, additional_secret_outputs=["secretString"]))
        return secret

    def declare_secret(self, key: str, description: str) -> pulumi.Resource:
        # No version here: the value is added out of band (or by write_secret); the prefix policy
        # already lets the store read it.
        return SdkResource("aws:secretsmanager/secret:Secret", f"{self.prefix}-{key}", {
            "name": self.secret_path(key),
            "description": description,
            "kmsKeyId": self.kms_key_arn,
            "recoveryWindowInDays": 30,
            "tags": {**self.tags, **DATA_CLASSIFICATION},
        }, self.opts(protect=True))

    def secret_store_provider(self, binding: ServiceAccountBinding) -> dict[str, Any]:
        return {"aws": {
            "service": "SecretsManager",
            "region": self.region,
            "auth": {"jwt": {"serviceAccountRef": {"name": binding.service_account}}},
        }}

    # ------------------------------------------------------------------ backups
    def backup_target(self, service: str, binding: Optional[ServiceAccountBinding]) -> Optional[BackupTarget]:
        backups = self.platform_backups()
        bucket = backups.get("bucket")
        if not bucket:
            return None
        return BackupTarget(storage={"type": "s3", "s3": {
            "bucket": bucket,
            "prefix": self.backup_prefix(service),
            "region": backups.get("region") or self.region,
            # No credentialsSecret: the backup agent uses the pods' IRSA role.
            # The backup bucket's key (the platform's data key unless the platform says otherwise).
            "serverSideEncryption": {"sseAlgorithm": "aws:kms", "kmsKeyID": backups.get("kmsKeyId") or self.kms_key_arn},
        }})

    def backup_identity(self, name: str, service_account: str, service: str) -> Optional[ServiceAccountBinding]:
        """An IRSA role that may write only `<client>/<env>/<service>/` in the platform backup bucket; the
        restore drill's copy uses it to read the backups for its point-in-time restore."""
        binding = self.workload_identity(name, service_account, drill_copy=True)
        bucket = self.platform_backups().get("bucket")
        if bucket:
            prefix = self.backup_prefix(service)
            arn = f"arn:{self.partition}:s3:::{bucket}"
            SdkResource("aws:iam/rolePolicy:RolePolicy", f"{self.prefix}-{name}-backup-policy", {
                "role": self._roles[name].id,
                "policy": json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": arn,
                     "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}}},
                    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                                   "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                     "Resource": f"{arn}/{prefix}/*"},
                    {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"],
                     "Resource": sorted({self.kms_key_arn, self.platform_backups().get("kmsKeyId") or self.kms_key_arn}),
                     "Condition": {"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}}},
                ]}),
            }, self.opts())
        return binding
