"""MongoDB in transit: every PerconaServerMongoDB requires TLS, and every app that connects to it
uses TLS, verifies the server against the cluster's CA, and has that CA file mounted.

Facts (percona-server-mongodb-operator v1.22.0): `spec.tls.mode` `requireTLS` makes mongod accept TLS
connections only (pkg/psmdb/container.go passes `--tlsMode`); the server certificate and its CA are
in the Secret `spec.secrets.ssl` (default `<cluster>-ssl`, keys `tls.crt`, `tls.key`, `ca.crt`:
pkg/psmdb/tls/certificate.go). A MongoDB driver connects with TLS only when the connection string says
`tls=true` (or `ssl=true`), and verifies the server only against `tlsCAFile` (the MongoDB connection
string options); `tlsInsecure`/`tlsAllowInvalidCertificates` turn verification off.

Connection strings are read where our apps get them: the templates of the ExternalSecrets that build
their Secrets; the pods that read such a key (env `secretKeyRef` or `envFrom`) must mount the CA.
"""
from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .model import Finding, Plan

CHECK = "mongodb-tls"
_URI = re.compile(r"mongodb(?:\+srv)?://[^\s\"']+")
_POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    return (spec.get("template") or {}).get("spec") or {}


def _reads(pod: dict[str, Any], secret: str, key: str) -> bool:
    for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        for e in c.get("env") or []:
            ref = ((e.get("valueFrom") or {}).get("secretKeyRef") or {})
            if ref.get("name") == secret and ref.get("key") == key:
                return True
        if any((src.get("secretRef") or {}).get("name") == secret for src in c.get("envFrom") or []):
            return True
    return False


def _mounts_file(pod: dict[str, Any], path: str, ssl_secret: str) -> bool:
    """Whether every container reading the URI sees ``path`` from the cluster's TLS Secret."""
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    directory, filename = posixpath.split(path)
    for c in pod.get("containers") or []:
        found = False
        for m in c.get("volumeMounts") or []:
            vol = volumes.get(m.get("name")) or {}
            secret = vol.get("secret") or {}
            if secret.get("secretName") != ssl_secret:
                continue
            if m.get("subPath"):
                found = found or (m.get("mountPath") == path and m.get("subPath") == filename)
                continue
            items = secret.get("items")
            names = [i.get("path") for i in items] if items else ["ca.crt", "tls.crt", "tls.key"]
            if m.get("mountPath", "").rstrip("/") == directory and filename in names:
                key = next((i.get("key") for i in items or [] if i.get("path") == filename), filename)
                found = found or key == "ca.crt"
        if not found:
            return False
    return True


def analyze(plan: Plan) -> None:
    from .render import cluster_objects

    objects = [o for o in cluster_objects(plan) if o.phase != "patch"]
    clusters = []
    for o in objects:
        if o.kind != "PerconaServerMongoDB":
            continue
        spec = o.obj.get("spec") or {}
        mode = (spec.get("tls") or {}).get("mode") or "preferTLS"   # the operator's default (psmdb_defaults.go)
        ssl = (spec.get("secrets") or {}).get("ssl") or f"{o.name}-ssl"
        hosts = [f"{o.name}-{rs.get('name', 'rs0')}" for rs in spec.get("replsets") or []]
        clusters.append((o, mode, ssl, hosts))
        if mode != "requireTLS":
            plan.findings.append(Finding(CHECK, "warning" if mode in ("preferTLS", "allowTLS") else "error", o.urn, (
                f"PerconaServerMongoDB {o.namespace}/{o.name}: tls.mode is {mode!r}, so mongod also accepts plain TCP "
                "connections; the data zone is 'TLS + auth': set lfh:client.mongodb.tlsMode to requireTLS")))
    if not clusters:
        return
    for es in objects:
        if es.kind != "ExternalSecret":
            continue
        target = (es.obj.get("spec") or {}).get("target") or {}
        secret = target.get("name") or es.name
        for key, text in ((target.get("template") or {}).get("data") or {}).items():
            # ESO template expressions ({{ .password }}) hold spaces: stand them in before reading the URI.
            for uri in _URI.findall(re.sub(r"\{\{.*?\}\}", "TEMPLATE", str(text))):
                for cr, mode, ssl, hosts in clusters:
                    if cr.namespace != es.namespace or not any(h in uri for h in hosts):
                        continue
                    _check_uri(plan, es, secret, key, uri, cr, mode, ssl, objects)


def _check_uri(plan: Plan, es: Any, secret: str, key: str, uri: str, cr: Any, mode: str, ssl: str, objects: list) -> None:
    label = f"ExternalSecret {es.namespace}/{es.name} key {key}"
    query = {k.lower(): v[-1] for k, v in parse_qs(urlsplit(uri).query).items()}
    tls_on = query.get("tls", query.get("ssl", "")).lower() == "true"
    if not tls_on:
        plan.findings.append(Finding(CHECK, "error" if mode == "requireTLS" else "warning", es.urn, (
            f"{label}: the connection string to PerconaServerMongoDB {cr.namespace}/{cr.name} has no tls=true"
            + (" but the cluster requires TLS: the app cannot connect" if mode == "requireTLS" else "")
            + "; add tls=true&tlsCAFile=<the mounted ca.crt>")))
        return
    if query.get("tlsinsecure", "").lower() == "true" or query.get("tlsallowinvalidcertificates", "").lower() == "true":
        plan.findings.append(Finding(CHECK, "error", es.urn, (
            f"{label}: the connection string turns certificate verification off; remove tlsInsecure/"
            "tlsAllowInvalidCertificates and name the cluster's CA in tlsCAFile")))
        return
    ca = query.get("tlscafile")
    if not ca:
        plan.findings.append(Finding(CHECK, "error", es.urn, (
            f"{label}: tls=true without tlsCAFile: the driver verifies the server against the system trust store, "
            f"which does not hold PerconaServerMongoDB {cr.namespace}/{cr.name}'s CA; name the mounted CA "
            f"(Secret {ssl}, key ca.crt) in tlsCAFile")))
        return
    for o in objects:
        if o.kind not in _POD_KINDS or o.namespace != es.namespace:
            continue
        pod = _pod_spec(o.obj)
        if _reads(pod, secret, key) and not _mounts_file(pod, ca, ssl):
            plan.findings.append(Finding(CHECK, "error", o.urn, (
                f"{o.kind} {o.namespace}/{o.name} reads {key} from Secret {secret}, whose connection string names "
                f"tlsCAFile={ca}, but does not mount ca.crt of Secret {ssl} there: the driver cannot verify the "
                f"server and never connects. Mount the Secret's ca.crt (items) at {posixpath.dirname(ca)}.")))


__all__ = ["analyze"]
