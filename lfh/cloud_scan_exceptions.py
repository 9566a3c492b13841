"""Checks of the independent scan (tools/scan_cloud.py, checkov) that still fail, each with why it does not
apply here. Rendered into docs/policies.md; the scan fails on a failing check missing here, and on an entry
here whose check no longer fails (remove it then)."""
from __future__ import annotations

#: checkov check id -> why it does not apply to this platform (and what covers the concern instead).
NOT_APPLICABLE: dict[str, str] = {
    "CKV_AZURE_114": (
        "The secrets the stack writes into Key Vault do set `contentType: application/json` "
        "(components/cluster/secret_writers.py), but their recorded `properties` hold the value and are therefore "
        "recorded as one secret: the converted template cannot show the field (a false positive of the offline scan)."),
    "CKV_AZURE_41": (
        "An expiry date on a Key Vault secret makes it unreadable after that date: External Secrets would stop "
        "syncing Longhorn's backup key and Velero's repository password and the backups would stop. These secrets "
        "are rewritten by the stack (the account key when it is regenerated, see docs/backup-restore.md; the "
        "repository password never changes by design) and every read is in the vault's audit log."),
    "CKV2_AWS_57": (
        "Secrets Manager rotation runs a rotation Lambda that changes values behind the stack. The generated "
        "secrets rotate through the stack itself: their generator's keepers follow a `time.Rotating`, and the MongoDB "
        "users are created new, switched to, then the old ones dropped. Policies `aws-secretsmanager-rotation` and "
        "`stack-generated-secrets-rotate` check that chain on every plan; secrets that never rotate (the data-at-rest "
        "key, the operator's system users) are listed with their reasons in the policy config, and holders an "
        "operator fills (e.g. `smtp`) are rotated by their owner."),
    "CKV_AWS_18": (
        "S3 server access logs cannot go to a bucket with SSE-KMS default encryption (S3 user guide, \"Enabling "
        "Amazon S3 server access logging\"), so records of PHI access would sit under a weaker key than the PHI. "
        "Every object read and write is recorded instead by the platform's CloudTrail trail (S3 data events, all "
        "regions, the platform's KMS key, log file validation) into the audit bucket, kept "
        "`cluster.accessLogs.retentionDays` — policy `aws-s3-data-access-logged`. The audit bucket holds those logs "
        "and is not itself logged."),
    "CKV_AWS_144": (
        "Fails on the copies themselves — the WORM backup replica and each client's file replica already live in "
        "the second region — and on the audit bucket, whose trail records both regions and whose files are "
        "digest-signed and versioned. Policy `aws-s3-phi-bucket-replicated` requires the copy where it matters."),
    "CKV2_AWS_10": (
        "Sending S3 data events to CloudWatch Logs bills ingestion for every object read; the trail's files in the "
        "audit bucket are the record (queried with Athena or CloudTrail Lake when needed)."),
    "CKV_AWS_252": (
        "An SNS notification per delivered log file has no consumer here; the integrity of the files is proven by "
        "CloudTrail log file validation (signed digest files)."),
    "CKV_AZURE_6": (
        "The API server is private (`enablePrivateCluster`); authorized IP ranges only apply to a public API "
        "server, which the platform uses only with `api.allowPublicEndpoint` and then always with ranges."),
    "CKV_AZURE_8": (
        "The Kubernetes dashboard add-on no longer exists in AKS (removed with Kubernetes 1.19); there is nothing "
        "to disable."),
    "CKV_AZURE_172": (
        "The Secrets Store CSI driver add-on is not used: External Secrets syncs Key Vault secrets into the "
        "namespaces (refreshInterval) and the stack rotates the generated ones."),
    "CKV_AZURE_226": (
        "OS disks are `Managed`, set explicitly (policy `azure-aks-os-disk-type`), so every node disk carries the "
        "platform's customer-managed key through the disk encryption set; `Ephemeral` is a per-pool option "
        "(`nodePools.<pool>.osDiskType`), and changing the type recreates the pool."),
    "CKV_GCP_12": (
        "GKE Dataplane V2 (`ADVANCED_DATAPATH`) enforces NetworkPolicy itself; the legacy `network_policy` (Calico) "
        "setting must stay off with it."),
    "CKV_GCP_62": (
        "GCS usage logs (hourly CSV files, no caller identity) are replaced by Cloud Audit Logs data access: every "
        "read and write with its principal, routed into a CMEK log bucket kept `cluster.accessLogs.retentionDays` — "
        "policy `gcp-gcs-data-access-logged`."),
}
