"""`python -m lfh docs [--check]`: regenerate every generated document under `docs/`.

- `docs/configuration.md` — from the config model (`python -m lfh config-docs`).
- `docs/policies.md` — from the policy pack (`python -m lfh policy-docs`), when the pack's command exists.
- `docs/hipaa.md` — the HIPAA Security Rule mapping: for each safeguard, the policies of the pack
  that enforce it (their `PolicyComplianceFramework` reference), the components that implement it
  (found by their `lfh:<area>:<Name>` type tokens in `components/`), and how to evidence it.

Generated files are never edited by hand; `tests/test_docs.py` fails when one is stale.
"""
from __future__ import annotations

import ast
import contextlib
import importlib
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from . import PROJECT_ROOT

# ---------------------------------------------------------------- reading the pack and components


@dataclass
class PolicyInfo:
    name: str
    description: str
    enforcement: str
    severity: str
    reference: str
    framework: str
    module: str


def _cli_output(subcommand: str) -> Optional[str]:
    """The stdout of `python -m lfh <subcommand>` run in-process, or None if there is no such command."""
    from .cli import build_parser, main

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    if subcommand not in sub.choices:
        return None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main([subcommand])
    if code != 0:
        raise RuntimeError(f"`python -m lfh {subcommand}` exited {code}")
    return buf.getvalue()


def policies(root: Path = PROJECT_ROOT) -> list[PolicyInfo]:
    """Every policy object the pack's modules define (without constructing the PolicyPack)."""
    pack = root / "policy"
    if not (pack / "PulumiPolicy.yaml").is_file():
        return []
    try:
        from pulumi_policy import Policy
    except ImportError:  # pragma: no cover - pulumi_policy is a pinned dependency
        return []
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    found: dict[str, PolicyInfo] = {}

    def visit(obj: Any, module: str, depth: int = 0) -> None:
        if isinstance(obj, Policy):
            fw = getattr(obj, "framework", None)
            enforcement = getattr(obj, "enforcement_level", None)
            severity = getattr(obj, "severity", None)
            found.setdefault(obj.name, PolicyInfo(
                name=obj.name,
                description=" ".join(str(obj.description or "").split()),
                enforcement=getattr(enforcement, "value", str(enforcement or "advisory")),
                severity=getattr(severity, "value", str(severity or "")),
                reference=str(getattr(fw, "reference", "") or ""),
                framework=str(getattr(fw, "name", "") or ""),
                module=module,
            ))
        elif isinstance(obj, (list, tuple)) and depth < 2:
            for item in obj:
                visit(item, module, depth + 1)
        elif isinstance(obj, dict) and depth < 2:
            for item in obj.values():
                visit(item, module, depth + 1)

    for path in sorted(pack.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        if rel.name == "__main__" or "tests" in rel.parts:
            continue  # __main__ constructs the PolicyPack, which starts a server and never returns
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # a broken pack must not pass silently
            raise RuntimeError(f"cannot import policy module {name}: {exc}") from exc
        for value in vars(module).values():
            visit(value, name)
    return sorted(found.values(), key=lambda p: (p.reference, p.name))


@dataclass
class ComponentInfo:
    token: str
    cls: str
    path: str
    doc: str


def components(root: Path = PROJECT_ROOT) -> list[ComponentInfo]:
    """Every ComponentResource in `components/`: its type token, class, file and one-line doc."""
    out: list[ComponentInfo] = []
    for path in sorted((root / "components").rglob("*.py")):
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant)
                        and isinstance(call.args[0].value, str) and re.match(r"^lfh:[a-z]+:[A-Z]\w*$", call.args[0].value)):
                    doc = (ast.get_docstring(node) or "").strip().splitlines()
                    out.append(ComponentInfo(call.args[0].value, node.name, str(path.relative_to(root)), doc[0] if doc else ""))
                    break
    return sorted({c.token: c for c in out}.values(), key=lambda c: c.token)


# ---------------------------------------------------------------- the HIPAA mapping


@dataclass
class Control:
    reference: str
    title: str
    implements: str
    #: Type tokens (regex on `lfh:<area>:<Name>`) of the components that implement it.
    components: str
    evidence: list[str]


#: HIPAA Security Rule (45 CFR Part 164 Subpart C) safeguards this platform addresses. Policies are
#: matched by their framework reference (prefix match, so 164.312(a)(2)(iv) also lists under 164.312(a)).
CONTROLS = [
    Control("164.308(a)(1)(ii)(D)", "Information system activity review",
            "Control-plane audit logs kept ≥ 90 days; Prometheus/Alertmanager alerts on backups, certificates, "
            "crash loops; per client route 5xx-rate and p95-latency alerts from the gateway's Envoy metrics; "
            "MongoDB replica-set health, replication lag, connection and disk alerts (a pinned mongodb_exporter "
            "sidecar on every member); Grafana dashboards as code (LFH / Platform, LFH / Client, LFH / MongoDB); "
            "every change goes through a reviewed pull request and a recorded `pulumi up`.",
            r"Cluster|Monitoring|Eks|Aks|Gke",
            ["`python -m lfh plan <platform stack>`: the cluster resource's log types and retention in `resources.json`",
             "rules `lfh-gateway-alerts` (monitoring) and `mongodb-alerts` (each client namespace): "
             "`kubectl get prometheusrules -A`; firing and resolved alerts in Alertmanager and the receivers' channels",
             "dashboards: ConfigMaps `lfh-dashboard-*` in `monitoring` (Grafana at `grafana.<domain>`)",
             "Pulumi stack history (`pulumi stack history`) and the CI runs of `.github/workflows/lfh.yml`"]),
    Control("164.308(a)(5)(ii)(D)", "Password management (rotation of generated secrets)",
            "Every rotating generated client secret (MongoDB app users, the JWT secret, MinIO's app key) is kept by a `time.Rotating` "
            "of `secrets.rotationDays` (default 90): the first `pulumi up` after the period writes new values to the "
            "cloud secret manager. Objects that carry them are named after the rotation (`r<unix time>`), so the apps "
            "roll onto a Secret External Secrets has already filled. MongoDB users follow create new → switch → drop "
            "old: the operator creates `<db>-r<n>` with the new password, the apps roll onto it (Pulumi waits for the "
            "rollouts), then Job `mongodb-drop-old-users-r<n>` drops every earlier `<db>` / `<db>-r<m>` user; MinIO's "
            "app key the same way (user `hapihub-r<n>`, Job `minio-drop-old-keys-r<n>`). Cloud buckets have no keys "
            "(workload identity). Not "
            "rotated, by design: the MongoDB encryption key (data written with it), the operator's system users, "
            "MinIO's root, the Typesense bootstrap key, the Velero repository password. Run `pulumi up` at least "
            "every `rotationDays` (a scheduled CI deploy) so the rotation happens on time; rotating the JWT secret "
            "signs users out once.",
            r"ClientSecrets|Mongo|WebService",
            ["rotation history: the `time:index/rotating:Rotating` resource (`pulumi stack export`: its `rfc3339` and "
             "`rotationRfc3339`) and `pulumi stack history` for each replacement of the passwords",
             "version history of each secret in the cloud secret manager (`aws secretsmanager list-secret-version-ids`, "
             "`az keyvault secret list-versions`, `gcloud secrets versions list`)",
             "the drop Job's log: `kubectl logs -n <client>-<env> job/mongodb-drop-old-users-r<n>` (which users were "
             "dropped, which kept); `db.getUsers()` lists only the current `<db>-r<n>`; likewise "
             "`job/minio-drop-old-keys-r<n>` and `mc admin user ls` for MinIO",
             "policy `stack-generated-secrets-rotate` reports 0 violations"]),
    Control("164.308(a)(3)", "Workforce security / least privilege",
            "Entra ID / IAM access entries instead of static credentials, Argo CD RBAC read-only by default, "
            "one ServiceAccount per workload with token automount off, AppProjects limited to one namespace.",
            r"GitOps|ArgoCD|Argo|WebService|Namespace|Baseline",
            ["policies listed under this reference report 0 violations in `build/plan/<stack>/report.json`",
             "`kubectl get rolebindings,serviceaccounts -n <client>-<env>` matches the plan's manifests"]),
    Control("164.308(a)(4)", "Information access management (isolation of each client)",
            "One namespace per client+environment with default-deny NetworkPolicies and allows derived from the "
            "enabled components, a SecretStore that reads only `<platform>/<client>/<env>/*`, workload identities "
            "scoped to one service account.",
            r"Client|Namespace|Baseline|Network|Secret",
            ["`tests/` isolation tests (two clients share no namespace, secret path, identity, bucket or peer)",
             "policies listed under this reference in `docs/policies.md`"]),
    Control("164.308(a)(7)(ii)(A)", "Data backup plan",
            "Velero schedules per client namespace (hourly 72 h, daily 30 d, weekly 90 d to the archive location), "
            "Longhorn recurring snapshots/backups, MongoDB backups with point-in-time recovery to the platform bucket.",
            r"Backup|Velero|Longhorn|Storage|Mongo|Database",
            ["`kubectl get schedules.velero.io -A` and `velero backup get` (newest daily < 26 h old)",
             "the backup alerts (`VeleroBackupMissing*`, `VeleroBackupNotCompleted`, `PerconaPitrLagging`) are silent "
             "in Alertmanager",
             "[backup-restore.md](backup-restore.md) for the RPO/RTO table"]),
    Control("164.308(a)(7)(ii)(B)", "Disaster recovery plan",
            "Restores from the platform bucket into a new cluster (Velero), documented per tier with RTO/RPO.",
            r"Backup|Velero|Restore",
            ["[backup-restore.md](backup-restore.md) runbook, exercised at least yearly on a scratch platform"]),
    Control("164.308(a)(7)(ii)(D)", "Testing and revision procedures",
            "A weekly restore drill per client: restores the newest daily backup into a throwaway namespace, "
            "reads the backup canary (a timestamped MongoDB document and bucket object) back from the copy, "
            "records the achieved RPO and RTO, restores MongoDB to a point in time at least monthly, deletes "
            "the namespace; a failed or missing drill pages.",
            r"Restore|Drill|Backup",
            ["the drill's recorded result: ConfigMap `restore-drill-<namespace>` in the Velero namespace "
             "(`lastResult`, `lastBackup`, `lastRpoSeconds`, `lastRtoSeconds`, `lastPitrResult`, `lastRun`)",
             "its JSON log line per run, shipped to long-term storage — see 'Reading the drill results' in "
             "[backup-restore.md](backup-restore.md)"]),
    Control("164.310(d)(2)(iv)", "Data backup and storage",
            "Backup buckets versioned, encrypted with a customer-managed key, never public, with lifecycle tiers; "
            "optional locked (WORM) replica.",
            r"Cluster|Bucket|Backup|Storage",
            ["bucket encryption/versioning/public-access inputs in `resources.json` of each platform plan",
             "policies listed under this reference report 0 violations"]),
    Control("164.312(a)(1)", "Access control",
            "Private cluster endpoints (public only with explicit CIDRs), Pod Security `restricted` for client "
            "namespaces, non-root containers, no privilege escalation, capabilities dropped.",
            r"Cluster|Namespace|WebService|Baseline|Client",
            ["policies listed under this reference report 0 violations",
             "`kubectl get ns -L pod-security.kubernetes.io/enforce`"]),
    Control("164.312(a)(2)(iv)", "Encryption and decryption (at rest)",
            "Kubernetes Secrets envelope-encrypted with a KMS key (rotation on), encrypted node disks, an encrypted "
            "StorageClass for data services, MongoDB encryption at rest, buckets with CMK.",
            r"Cluster|Storage|Longhorn|Mongo|Database|Bucket|ObjectStorage",
            ["KMS key rotation and cluster encryption config in each platform plan's `resources.json`",
             "policies listed under this reference report 0 violations"]),
    Control("164.312(b)", "Audit controls",
            "Control-plane audit logging with retention ≥ 90 days; VPC flow logs; Pulumi's own change history. "
            "Container logs of every namespace, the gateway's access log included, kept `logging.retentionDays` "
            "(default 365): EKS — amazon-cloudwatch-observability add-on into CMK-encrypted log groups; AKS — "
            "Container Insights into the platform's Log Analytics workspace (ContainerLogV2 table retention); GKE — "
            "Cloud Logging of workloads routed to the platform's log bucket; existing clusters — a pinned Fluent Bit "
            "DaemonSet writing gzip objects to the backup store. The access log is one JSON line per request with "
            "route (client namespace), status, duration and bytes, and never the query string, body or Referer.",
            r"Cluster|Eks|Aks|Gke|Network|Gateway|LogCollector",
            ["log retention inputs in the platform plan; `pulumi stack history`",
             "log locations: AWS `/aws/containerinsights/<cluster>/application` (CloudWatch Logs Insights); Azure "
             "workspace `log-<platform>-<suffix>`, table `ContainerLogV2`; GCP log bucket `lfh-<platform>-<suffix>` "
             "(Logs Explorer, `resource.type=\"k8s_container\"`); existing clusters `<backup bucket>/logs/YYYY/MM/DD/HH/` "
             "(the bucket owner keeps `logs/` at least `logging.retentionDays`)",
             "gateway access log: container `envoy` of the `envoy-gateway-system` proxies, JSON field `route_name` = "
             "`httproute/<client namespace>/<route>/…`; its format is the EnvoyProxy `shared-proxy` in the plan",
             "policies listed under this reference report 0 violations"]),
    Control("164.312(c)(1)", "Integrity",
            "Pinned chart versions and images (no `latest`), conformance of every object against upstream "
            "schemas, drift detection (`pulumi preview --expect-no-changes`) on a schedule, versioned buckets.",
            r"Platform|Gateway|WebService",
            ["`python -m lfh plan --all` reports 0 conformance errors; the nightly drift job is green",
             "policies listed under this reference report 0 violations"]),
    Control("164.312(d)", "Person or entity authentication",
            "Workload identity (IRSA / Pod Identity, Azure workload identity, GKE workload identity) instead of "
            "static cloud keys; Entra ID for AKS with local accounts disabled; MongoDB users per app.",
            r"Cluster|Secret|Identity|Mongo|Database",
            ["service-account annotations and identity bindings in the plans",
             "policies listed under this reference report 0 violations"]),
    Control("164.312(e)(1)", "Transmission security",
            "HTTPS only at the shared Gateway (HTTP only redirects), HSTS, certificates from cert-manager, TLS "
            "between MongoDB members, TLS-only buckets, default-deny network policies.",
            r"Gateway|Certificate|Cert|Network|Mongo|Database",
            ["Gateway listeners and security headers in the platform plan's manifests",
             "policies listed under this reference report 0 violations"]),
]

#: Issue 15 (cloud side): access logs of PHI and backup buckets, a second region for PHI, admitted images and
#: private key stores. Separate entries, so the safeguards above keep their own text.
CONTROLS += [
    Control("164.312(b)", "Audit controls: who read or changed PHI and backup objects",
            "Every object read and write of the platform's backup buckets and every client's file bucket is recorded "
            "into a destination encrypted with the platform's customer-managed key and kept "
            "`cluster.accessLogs.retentionDays` (default 365, up to 3650; a client whose policy asks for more — HIPAA's "
            "6 years is 2190 — sets `objectStorage.cloud.accessLogRetentionDays`, and the plan refuses a platform that "
            "keeps less). AWS: one CloudTrail trail per platform (S3 data events of every region, KMS, log file "
            "validation; S3 server access logs cannot use SSE-KMS). GCP: Cloud Audit Logs data access of Cloud Storage, "
            "routed to a CMEK log bucket. Azure: the backup account's blob diagnostic logs (StorageRead/Write/Delete) "
            "to a CMK archive account and the platform workspace.",
            r"Eks|Gke|Aks|ObjectStorage",
            ["AWS: trail `lfh-<platform>-<suffix>-data-access`, files in s3://lfh-<platform>-audit-<suffix>/AWSLogs/ "
             "(`aws cloudtrail validate-logs` proves none was changed; query with Athena or CloudTrail Lake); the "
             "audit bucket's lifecycle rule `access-log-retention` is the retention; each client bucket's tag "
             "`lfh:access-logs` names the trail",
             "GCP: log bucket `lfh-<platform>-access-<suffix>` (Logs Explorer, "
             "`logName:\"cloudaudit.googleapis.com%2Fdata_access\" resource.labels.bucket_name=\"<bucket>\"`), its "
             "`retentionDays` and `cmekSettings`; the project's audit config for storage.googleapis.com",
             "Azure: containers `insights-logs-storageread|storagewrite|storagedelete` in archive account "
             "`lfh<platform>au<suffix>` (lifecycle rule `access-log-retention`), and table `StorageBlobLogs` in the "
             "platform workspace",
             "policies `aws-s3-data-access-logged`, `gcp-gcs-data-access-logged`, `azure-storage-blob-access-logged` "
             "report 0 violations; `tools/scan_cloud.py` lists the scanner's view"]),
    Control("164.308(a)(7)(ii)(A)", "Data backup plan: a second region for PHI",
            "Production client file buckets keep a copy in the platform's second region (AWS: S3 replication into a "
            "bucket under that region's key, deletes not replicated; Azure: the geo-redundant (GZRS) backup account "
            "their containers live in), as the platform's WORM backup replica does; `objectStorage.cloud.replicate` "
            "turns it off or requires it. Azure production backup accounts are geo-redundant "
            "(`cluster.storageRedundancy`).",
            r"ObjectStorage|Eks|Aks",
            ["the replication configuration of each client bucket and the replica's region in the client plan's "
             "`resources.json`; S3 replication metrics of the rule `second-region`",
             "`az storage account show --query sku` on the backup account",
             "policies `aws-s3-phi-bucket-replicated` and `azure-storage-geo-redundant` report 0 violations"]),
    Control("164.312(c)(1)", "Integrity: only images of known owners run (GKE)",
            "GKE clusters evaluate the project's Binary Authorization policy: the cluster's own rule denies every image "
            "outside the allowlist of the owners the platform and its clients use (lfh/image_patterns.py, extended with "
            "`binaryAuthorization.extraImagePatterns`), blocking in production and logging elsewhere; `python -m lfh "
            "plan` proves every pod's image is on it. Intranode visibility puts pod-to-pod traffic on one node through "
            "the VPC (flow logs, firewall).",
            r"Gke",
            ["`gcloud container binauthz policy export`; denied admissions in Cloud Logging "
             "(`protoPayload.response.reason=\"VIOLATES_POLICY\"`, or the dry-run entries outside production)",
             "policies `gcp-gke-binary-authorization` and `gcp-gke-intranode-visibility` report 0 violations"]),
    Control("164.312(e)(1)", "Transmission security: key stores and add-on permissions",
            "Key Vault takes no public traffic (publicNetworkAccess Disabled): the cluster reaches it through a private "
            "endpoint resolved by privatelink.vaultcore.azure.net. The EKS VPC CNI and EBS CSI roles use AWS's managed "
            "policies instead of copied permission lists; AKS OS disks are set explicitly (Managed, customer-managed "
            "key).",
            r"Aks|Eks",
            ["`az keyvault show --query properties.publicNetworkAccess`; the private endpoint `pe-kv-<platform>`",
             "policies `azure-keyvault-no-public-network`, `aws-eks-addon-managed-policies` and `azure-aks-os-disk-type` "
             "report 0 violations"]),
]

HIPAA_HEADER = """# HIPAA Security Rule mapping

Generated by `python -m lfh docs` from the policy pack (`policy/`, each policy's
`PolicyComplianceFramework` reference) and the components (`components/`, their `lfh:<area>:<Name>`
type tokens); the safeguard texts live in `lfh/docgen.py`. Do not edit by hand: a test fails when
this file is stale.

This maps technical safeguards to what enforces and implements them. It is not a compliance
certification: administrative and physical safeguards (risk analysis, workforce training, BAAs with
the cloud provider, facility controls) remain the operator's responsibility.

How to evidence any control: run `python -m lfh plan --all` (offline; `build/plan/<stack>/report.json`
lists every finding and policy violation), and in a real account `pulumi preview --policy-pack policy`
per stack (the same pack, against live state).
"""


def _matches(ref: str, control: str) -> bool:
    norm = lambda s: re.sub(r"\s+", "", s.lower()).removeprefix("hipaa").removeprefix("§")  # noqa: E731
    c = norm(control)
    for part in re.split(r"[,;/]", ref):
        r = norm(part)
        if r and (r.startswith(c) or c.startswith(r)):
            return True
    return False


def render_hipaa(root: Path = PROJECT_ROOT) -> str:
    pols = policies(root)
    comps = components(root)
    out = [HIPAA_HEADER]
    out.append("## Safeguards → policies → components → evidence\n")
    for c in CONTROLS:
        enforced = [p for p in pols if _matches(p.reference, c.reference)]
        impl = [m for m in comps if re.search(c.components, m.token.split(":")[-1] + " " + m.cls)]
        out.append(f"### {c.reference} — {c.title}\n")
        out.append(f"**Implemented by:** {c.implements}\n")
        if impl:
            out.append("**Components:** " + ", ".join(f"`{m.token}` ({m.path})" for m in impl) + "\n")
        else:
            out.append("**Components:** none recorded yet\n")
        if enforced:
            out.append("**Enforced by policies:** " + ", ".join(f"`{p.name}` ({p.enforcement})" for p in enforced) + "\n")
        else:
            out.append("**Enforced by policies:** none in the pack yet (a gap to close)\n")
        out.append("**Evidence:**\n")
        out.extend(f"- {e}" for e in c.evidence)
        out.append("")
    out.append("## Every policy and its HIPAA reference\n")
    if pols:
        out.append("| policy | HIPAA reference | enforcement | severity | what it checks |")
        out.append("| --- | --- | --- | --- | --- |")
        for p in pols:
            desc = p.description.replace("|", "\\|")
            out.append(f"| `{p.name}` | {p.reference or '—'} | {p.enforcement} | {p.severity or '—'} | {desc} |")
        unmapped = [p.name for p in pols if not any(_matches(p.reference, c.reference) for c in CONTROLS)]
        if unmapped:
            out.append("")
            out.append("Policies whose reference matches none of the safeguards above: "
                       + ", ".join(f"`{n}`" for n in unmapped) + ".")
    else:
        out.append("No policy pack found (`policy/PulumiPolicy.yaml`).")
    out.append("")
    out.append("## Components\n")
    out.append("| type token | class | file | what it is |")
    out.append("| --- | --- | --- | --- |")
    for m in comps:
        out.append(f"| `{m.token}` | `{m.cls}` | {m.path} | {m.doc.replace('|', chr(92) + '|')} |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- the generated set


def generators(root: Path = PROJECT_ROOT) -> dict[str, Callable[[], Optional[str]]]:
    """Relative path → function returning the file's text (None: its generator does not exist yet)."""
    return {
        "docs/configuration.md": lambda: _cli_output("config-docs"),
        "docs/policies.md": lambda: _cli_output("policy-docs"),
        "docs/hipaa.md": lambda: render_hipaa(root),
    }


def write(root: Path = PROJECT_ROOT) -> list[Path]:
    written = []
    for rel, gen in generators(root).items():
        text = gen()
        if text is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def check(root: Path = PROJECT_ROOT) -> list[Path]:
    """Generated files that differ from what their generator produces now."""
    stale = []
    for rel, gen in generators(root).items():
        text = gen()
        if text is None:
            continue
        path = root / rel
        if not path.exists() or path.read_text() != text:
            stale.append(path)
    return stale
