"""Objects that exist at run time though no manifest of the plan declares them: Kubernetes' own, and
those a chart's hook job or an operator creates. Reference checks count them as present.

Every entry is derived from an object of the plan (a rendered Job's command, an operator's flag, a
custom resource) and says who creates it and where that is documented — never a blanket allow-list.
Secrets synced by an ExternalSecret or issued for a cert-manager Certificate are added here too.
"""
from __future__ import annotations

from typing import Any, Iterator

from .pods import PodTemplate, workload_template
from .render import ClusterObject


def _made(kind: str, namespace: str, name: str, why: str, cause: ClusterObject, **extra: Any) -> ClusterObject:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if extra.get("labels"):
        meta["labels"] = extra.pop("labels")
    return ClusterObject({"apiVersion": "v1", "kind": kind, "metadata": meta, **extra}, cause.urn, why, "runtime")


#: Kubernetes itself, in every namespace.
#: - ServiceAccount `default`: "every namespace has a default ServiceAccount" (ServiceAccount controller)
#:   https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts
#: - ConfigMap `kube-root-ca.crt`: published into every namespace by kube-controller-manager's
#:   root-ca-cert-publisher (https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#root-ca-configmap)
PER_NAMESPACE = [("ServiceAccount", "default", "Kubernetes' ServiceAccount controller (every namespace has `default`)"),
                 ("ConfigMap", "kube-root-ca.crt", "kube-controller-manager's root-ca-cert-publisher (every namespace)")]
#: The API server's own Service (https://kubernetes.io/docs/concepts/services-networking/service/ —
#: `default/kubernetes`, labels component=apiserver, provider=kubernetes, port `https`).
API_SERVICE = {"labels": {"component": "apiserver", "provider": "kubernetes"},
               "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]}}


def _job_outputs(o: ClusterObject, t: PodTemplate) -> Iterator[ClusterObject]:
    """Secrets a chart's Job creates, read from the rendered Job's command line."""
    for _, c in t.containers():
        words = [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
        flags = {w.split("=", 1)[0]: w.split("=", 1)[1] for w in words if w.startswith("--") and "=" in w}
        # kube-webhook-certgen `create --secret-name=X --namespace=Y` stores the CA and serving
        # certificate in Secret X (github.com/jet/kube-webhook-certgen README, "create").
        if "create" in words and "--secret-name" in flags:
            yield _made("Secret", flags.get("--namespace", o.namespace), flags["--secret-name"],
                        f"kube-webhook-certgen `create` in {o.label()}", o)
        # `argocd admin redis-initial-password` creates Secret `argocd-redis` (argo-cd
        # cmd/argocd/commands/admin/redis_initial_password.go; the chart hard-codes the name, _helpers.tpl).
        if words[:3] == ["argocd", "admin", "redis-initial-password"]:
            yield _made("Secret", o.namespace, "argocd-redis", f"`argocd admin redis-initial-password` in {o.label()}", o)
        # `envoy-gateway certgen` creates the control-plane/xDS Secrets (envoy-gateway v1.9
        # internal/provider/kubernetes/secrets.go: envoy-gateway, envoy, envoy-rate-limit, envoy-oidc-hmac).
        if "certgen" in words and "envoyproxy/gateway" in str(c.get("image", "")):
            for name in ("envoy-gateway", "envoy", "envoy-rate-limit", "envoy-oidc-hmac"):
                yield _made("Secret", o.namespace, name, f"`envoy-gateway certgen` in {o.label()}", o)


def _operator_outputs(o: ClusterObject, t: PodTemplate) -> Iterator[ClusterObject]:
    """Objects an operator Deployment creates, read from its flags."""
    for _, c in t.containers():
        flags = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in (str(x) for x in c.get("args") or []) if "=" in a}
        kubelet = flags.get("--kubelet-service")
        if kubelet and "/" in kubelet:
            # prometheus-operator v0.93 pkg/kubelet/controller.go: the kubelet Service it keeps, labelled
            # k8s-app / app.kubernetes.io/name = kubelet, ports https-metrics 10250, cadvisor 4194, http-metrics 10255.
            ns, name = kubelet.split("/", 1)
            yield _made("Service", ns, name, f"prometheus-operator `--kubelet-service` ({o.label()})", o,
                        labels={"k8s-app": "kubelet", "app.kubernetes.io/name": "kubelet",
                                "app.kubernetes.io/managed-by": "prometheus-operator"},
                        spec={"ports": [{"name": "https-metrics", "port": 10250}, {"name": "cadvisor", "port": 4194},
                                        {"name": "http-metrics", "port": 10255}]})


def _external_secret_keys(spec: dict[str, Any]) -> set[str]:
    """The keys of an ExternalSecret's target ({} when not known: `dataFrom`/`templateFrom` add keys
    only the store knows). A `template.data` replaces the data keys unless `mergePolicy: Merge`
    (external-secrets.io/v1 ExternalSecretTemplate)."""
    template = (spec.get("target") or {}).get("template") or {}
    if spec.get("dataFrom") or template.get("templateFrom"):
        return set()
    data = {str(d.get("secretKey")) for d in spec.get("data") or [] if isinstance(d, dict) and d.get("secretKey")}
    templated = set((template.get("data") or {}).keys())
    if templated and template.get("mergePolicy", "Replace") != "Merge":
        return templated
    return data | templated


def _custom_resource_outputs(o: ClusterObject) -> Iterator[ClusterObject]:
    spec = o.obj.get("spec") or {}
    if o.kind == "ExternalSecret":
        # External Secrets creates (and keeps) the target Secret; its name defaults to the ExternalSecret's.
        target = (spec.get("target") or {})
        if target.get("creationPolicy", "Owner") in ("Owner", "Orphan", "Merge"):
            yield _made("Secret", o.namespace, target.get("name") or o.name, f"ExternalSecret {o.namespace}/{o.name}", o,
                        **({"data": dict.fromkeys(keys, "")} if (keys := _external_secret_keys(spec)) else {}))
    elif o.kind == "Certificate" and str(o.obj.get("apiVersion", "")).startswith("cert-manager.io/") and spec.get("secretName"):
        yield _made("Secret", o.namespace, spec["secretName"], f"cert-manager Certificate {o.namespace}/{o.name}", o,
                    data={"tls.crt": "", "tls.key": "", "ca.crt": ""})
    elif o.kind == "PerconaServerMongoDB" and str(o.obj.get("apiVersion", "")).startswith("psmdb.percona.com/"):
        # Percona operator 1.22 (pkg/controller/perconaservermongodb/psmdb_controller.go ensureSecurityKey,
        # ssl.go reconcileSSL, pkg/apis/psmdb/v1/psmdb_types.go names): the key file, the encryption key
        # when none exists, the internal users Secret, and the TLS Secrets (via cert-manager when
        # `tls.issuerConf` is set).
        secrets = spec.get("secrets") or {}
        why = f"the Percona operator for {o.label()}"
        for name in (secrets.get("key") or f"{o.name}-mongodb-keyfile", f"internal-{o.name}-users",
                     secrets.get("ssl") or f"{o.name}-ssl", secrets.get("sslInternal") or f"{o.name}-ssl-internal",
                     secrets.get("encryptionKey") or f"{o.name}-mongodb-encryption-key"):
            yield _made("Secret", o.namespace, name, why, o)


def runtime_objects(objects: list[ClusterObject], templates: list[PodTemplate]) -> list[ClusterObject]:
    """What exists at run time beyond ``objects`` (see the module docstring)."""
    out: list[ClusterObject] = []
    namespaces = {o.name for o in objects if o.kind == "Namespace"} | {o.namespace for o in objects if o.namespace}
    for ns in sorted(namespaces | {"default", "kube-system"}):
        for kind, name, why in PER_NAMESPACE:
            out.append(ClusterObject({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": ns}},
                                     "", why, "runtime"))
    out.append(ClusterObject({"apiVersion": "v1", "kind": "Service",
                              "metadata": {"name": "kubernetes", "namespace": "default", "labels": API_SERVICE["labels"]},
                              "spec": API_SERVICE["spec"]}, "", "the Kubernetes API server", "runtime"))
    for o in objects:
        t = workload_template(o)
        if t is not None:
            if o.kind in ("Job", "CronJob"):
                out.extend(_job_outputs(o, t))
            else:
                out.extend(_operator_outputs(o, t))
        else:
            out.extend(_custom_resource_outputs(o))
    for t in templates:
        for ref, why in t.operator_creates.items():
            kind, _, name = ref.partition("/")
            out.append(_made(kind, t.namespace, name, why, t.owner))
    return out


__all__ = ["runtime_objects"]
