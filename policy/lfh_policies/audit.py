"""Access logs of the buckets that hold PHI or backups (HIPAA 164.312(b)), on the three clouds: every object
read and write recorded, into a destination encrypted with a customer-managed key and kept long enough.

A bucket is in scope when it carries the PHI classification (tag/label `data-classification: phi`). A client
stack's bucket is recorded by its platform's trail or sink (another stack): the client adapter tags it with
where its access logs go (`lfh:access-logs`), after checking the platform covers it (components/cloud/).
"""
from __future__ import annotations

import re
from typing import Any

from .common import HIGH, config_value, get, is_map, number, seq, stack_policy, truthy
from .links import linked, of_types

ACCESS_LOG_TAG = "lfh:access-logs"
#: GCP label spelling of the same key (labels allow no `:`).
ACCESS_LOG_LABEL = "lfh-access-logs"

RETENTION_CONFIG = {
    "minRetentionDays": {
        "type": "integer",
        "default": 365,
        "minimum": 1,
        "description": "Minimum days the access logs of PHI and backup buckets are kept.",
    },
}


def _phi(tags: Any) -> bool:
    return is_map(tags) and str(get(tags, "data-classification", default="")).lower() == "phi"


def _minimum(args: Any) -> float:
    return number(config_value(args, RETENTION_CONFIG, "minRetentionDays")) or 365


# ----------------------------------------------------------------------------- AWS

AWS_BUCKETS = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET_LOGGING = {"aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"}
LIFECYCLE = {"aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
             "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"}
_S3_ARN = re.compile(r"^arn:[^:]+:s3:::")


def _object_prefixes(trail: Any) -> list[str]:
    """`arn:aws:s3:::name/…` prefixes whose object-level data events the trail records."""
    out: list[str] = []
    for sel in seq(get(trail.props, "advancedEventSelectors")):
        fields = {str(get(f, "field")): f for f in seq(get(sel, "fieldSelectors"))}
        if "Data" not in [str(v) for v in seq(get(fields.get("eventCategory"), "equals"))]:
            continue
        types = [str(v) for v in seq(get(fields.get("resources.type"), "equals"))]
        if types and "AWS::S3::Object" not in types:
            continue
        arn = fields.get("resources.ARN")
        if arn is None:
            out.append("arn:")  # every object of every bucket
        out += [str(v) for v in seq(get(arn, "startsWiths")) + seq(get(arn, "equals"))]
    for sel in seq(get(trail.props, "eventSelectors")):
        for dr in seq(get(sel, "dataResources")):
            if get(dr, "type") == "AWS::S3::Object":
                out += [str(v) for v in seq(get(dr, "values"))]
    return out


def _covers(prefix: str, bucket_name: str) -> bool:
    if prefix in ("arn:", "arn:aws:s3", "arn:aws:s3:::"):
        return True
    return _S3_ARN.sub("", f"arn:aws:s3:::{bucket_name}/").startswith(_S3_ARN.sub("", prefix)) and bool(_S3_ARN.match(prefix))


def _shortest(days: list[float | None]) -> float | None:
    """The shortest of the retention periods that are set (None: nothing expires)."""
    known = [d for d in days if d is not None]
    return min(known) if known else None


def _expiration_days(resources: list[Any], bucket_name: Any) -> float | None:
    """Days after which the bucket's lifecycle expires current objects (None: never)."""
    return _shortest([number(get(rule, "expiration", "days"))
                      for lc in of_types(resources, LIFECYCLE) if get(lc.props, "bucket") == bucket_name
                      for rule in seq(get(lc.props, "rules")) if str(get(rule, "status", default="")) == "Enabled"])


@stack_policy(
    "aws-s3-data-access-logged",
    "Every S3 bucket holding PHI or backups has its object reads and writes recorded: by a CloudTrail trail "
    "(S3 data events) encrypted with a KMS key, with log file validation and retention ≥ minRetentionDays.",
    domain="aws", severity=HIGH, safeguard="164.312(b)", config=RETENTION_CONFIG,
    remediation="Add an aws.cloudtrail.Trail with an advanced event selector (eventCategory Data, resources.type "
                "AWS::S3::Object, resources.ARN startsWith the bucket's ARN), kmsKeyId and enableLogFileValidation, "
                "delivering to a bucket whose lifecycle keeps the logs ≥ minRetentionDays.",
)
def aws_data_access_logged(args, report):
    minimum = _minimum(args)
    trails = of_types(args.resources, {TRAIL})
    for b in of_types(args.resources, AWS_BUCKETS):
        if not _phi(get(b.props, "tags")):
            continue
        name = str(get(b.props, "bucket") or b.name)
        covering = [t for t in trails if any(_covers(p, name) for p in _object_prefixes(t))]
        if not covering:
            logging = [r for r in of_types(args.resources, BUCKET_LOGGING) if linked(r, b, "bucket", [get(b.props, "bucket")])]
            tag = str(get(b.props, "tags", ACCESS_LOG_TAG, default=""))
            if not logging and not tag.startswith("cloudtrail/"):
                report(f"bucket {name}: no trail records its object reads and writes (and no `{ACCESS_LOG_TAG}` tag "
                       "naming the platform's)", b.urn)
            continue
        for t in covering:
            label = get(t.props, "name") or t.name
            if not get(t.props, "kmsKeyId"):
                report(f"trail {label} (access logs of {name}) is not encrypted with a KMS key", t.urn)
            if not truthy(get(t.props, "enableLogFileValidation")):
                report(f"trail {label} (access logs of {name}) has no log file validation", t.urn)
            days = _expiration_days(args.resources, get(t.props, "s3BucketName"))
            if days is not None and days < minimum:
                report(f"trail {label}: its log bucket expires access logs after {int(days)} d < {int(minimum)} d", t.urn)


# ----------------------------------------------------------------------------- GCP

GCS_BUCKET = "gcp:storage/bucket:Bucket"
AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
SINK = "gcp:logging/projectSink:ProjectSink"
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"


@stack_policy(
    "gcp-gcs-data-access-logged",
    "Every GCS bucket holding PHI or backups has Cloud Audit Logs data access (DATA_READ, DATA_WRITE) on, routed "
    "to a log bucket with a customer-managed key and retention ≥ minRetentionDays.",
    domain="gcp", severity=HIGH, safeguard="164.312(b)", config=RETENTION_CONFIG,
    remediation="Add gcp.projects.IAMAuditConfig(service=storage.googleapis.com, DATA_READ + DATA_WRITE) and a "
                "ProjectSink of the data_access log into a ProjectBucketConfig with cmekSettings and retentionDays.",
)
def gcp_data_access_logged(args, report):
    minimum = _minimum(args)
    buckets = [b for b in of_types(args.resources, {GCS_BUCKET}) if _phi(get(b.props, "labels"))]
    if not buckets:
        return
    audits = [a for a in of_types(args.resources, {AUDIT_CONFIG})
              if get(a.props, "service") in ("storage.googleapis.com", "allServices")
              and {"DATA_READ", "DATA_WRITE"} <= {str(get(c, "logType")) for c in seq(get(a.props, "auditLogConfigs"))}]
    sinks = [s for s in of_types(args.resources, {SINK}) if "data_access" in str(get(s.props, "filter", default=""))]
    if not audits:
        unlabelled = [b for b in buckets if not get(b.props, "labels", ACCESS_LOG_LABEL)]
        for b in unlabelled:
            report(f"GCS bucket {get(b.props, 'name') or b.name}: Cloud Storage data access audit logs are not on "
                   f"(no IAMAuditConfig with DATA_READ and DATA_WRITE, and no `{ACCESS_LOG_LABEL}` label naming the platform's)", b.urn)
        return
    if not sinks:
        report("Cloud Storage data access logs stay in the _Default bucket (30 days): no sink routes them to a kept bucket",
               audits[0].urn)
    log_buckets = of_types(args.resources, {LOG_BUCKET})
    for s in sinks:
        dest = str(get(s.props, "destination", default=""))
        target = [lb for lb in log_buckets if linked(s, lb, "destination") or str(get(lb.props, "bucketId", default="")) in dest]
        for lb in target:
            label = get(lb.props, "bucketId") or lb.name
            if not get(lb.props, "cmekSettings", "kmsKeyName"):
                report(f"log bucket {label} (Cloud Storage data access) has no customer-managed key", lb.urn)
            days = number(get(lb.props, "retentionDays"))
            if days is None or days < minimum:
                report(f"log bucket {label} keeps data access logs {int(days) if days else 30} d < {int(minimum)} d", lb.urn)


# ----------------------------------------------------------------------------- Azure

STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
DIAGNOSTIC_SETTINGS = {"azure-native:monitor:DiagnosticSetting", "azure-native:insights:DiagnosticSetting"}
MANAGEMENT_POLICY = "azure-native:storage:ManagementPolicy"
BLOB_CATEGORIES = {"storageread", "storagewrite", "storagedelete"}


def _blob_logs(setting: Any) -> set[str]:
    on = set()
    for log in seq(get(setting.props, "logs")):
        if not truthy(get(log, "enabled")):
            continue
        cat, group = str(get(log, "category", default="")).lower(), str(get(log, "categoryGroup", default="")).lower()
        on |= BLOB_CATEGORIES if group in ("alllogs", "audit") else {cat}
    return on


def _on_blob_service(setting: Any, account: Any) -> bool:
    """The setting targets the account's blob service (`…/storageAccounts/<name>/blobServices/default`)."""
    uri = str(get(setting.props, "resourceUri", default="")).lower()
    name = str(get(account.props, "accountName", default="")).lower()
    return "/blobservices/" in uri and (linked(setting, account, "resourceUri") or (bool(name) and f"/storageaccounts/{name}/" in uri))


def _delete_after(resources: list[Any], account: Any) -> float | None:
    """Days after which the account's lifecycle deletes blobs (None: never)."""
    return _shortest([number(get(rule, "definition", "actions", "baseBlob", "delete", "daysAfterModificationGreaterThan"))
                      for mp in of_types(resources, {MANAGEMENT_POLICY})
                      if linked(mp, account, "accountName", [get(account.props, "accountName")])
                      for rule in seq(get(mp.props, "policy", "rules")) if truthy(get(rule, "enabled", default=True))])


@stack_policy(
    "azure-storage-blob-access-logged",
    "Every storage account holding PHI or backups sends its blob service's StorageRead, StorageWrite and "
    "StorageDelete logs to a storage account encrypted with a customer-managed key, kept ≥ minRetentionDays.",
    domain="azure", severity=HIGH, safeguard="164.312(b)", config=RETENTION_CONFIG,
    remediation="Add a monitor.DiagnosticSetting on `<account id>/blobServices/default` with the three categories and "
                "storageAccountId of an archive account (CMK) whose lifecycle deletes logs after ≥ minRetentionDays.",
)
def azure_blob_access_logged(args, report):
    minimum = _minimum(args)
    accounts = of_types(args.resources, {STORAGE_ACCOUNT})
    settings = of_types(args.resources, DIAGNOSTIC_SETTINGS)
    for a in accounts:
        if not _phi(get(a.props, "tags")):
            continue
        name = get(a.props, "accountName") or a.name
        mine = [s for s in settings if _on_blob_service(s, a)]
        full = [s for s in mine if BLOB_CATEGORIES <= _blob_logs(s)]
        if not full:
            report(f"storage account {name}: its blob service sends no StorageRead/StorageWrite/StorageDelete logs", a.urn)
            continue
        for s in full:
            archive = [x for x in accounts if get(s.props, "storageAccountId") and linked(s, x, "storageAccountId", [get(x.props, "id")])]
            target = str(get(s.props, "storageAccountId") or "")
            if not archive and target.startswith("/subscriptions/") and "/storageAccounts/" in target:
                # Another stack's archive account, named by its resource id (a client's key-based backup
                # account logs to its platform's audit account): the platform stack's run checks its key
                # and retention.
                continue
            if not archive:
                report(f"blob access logs of {name} are kept in no storage account of this stack (a workspace alone keeps "
                       "them ≤ 730 days under Microsoft-managed keys)", s.urn)
            for x in archive:
                enc = get(x.props, "encryption", default={})
                if str(get(enc, "keySource", default="")).lower() != "microsoft.keyvault":
                    report(f"archive account {get(x.props, 'accountName') or x.name} of the blob access logs has no customer-managed key", x.urn)
                days = _delete_after(args.resources, x)
                if days is not None and days < minimum:
                    report(f"archive account {get(x.props, 'accountName') or x.name} deletes access logs after {int(days)} d < {int(minimum)} d", x.urn)


POLICIES = [aws_data_access_logged, gcp_data_access_logged, azure_blob_access_logged]
