"""What a plan records: resources as the engine saw them, findings, and the stack's outputs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
#: Secrets are shown as this string in every output file.
SECRET = "[secret]"

SEVERITIES = ("error", "warning", "info")


def dig(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]…``, or None where a step is missing or not a mapping."""
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


@dataclass
class Resource:
    """One resource registration, with its inputs cleaned (secrets masked, whole numbers as int)."""

    urn: str
    type: str
    name: str
    parent: str
    provider: str
    dependencies: list[str]
    inputs: dict[str, Any]
    custom: bool = True
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    #: `{create, update, delete, read}` durations the engine waits (only those set).
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    #: Earlier identities of this resource (`{"urn": …}` or the alias spec's fields).
    aliases: list[dict[str, Any]] = field(default_factory=list)
    #: The explicit `depends_on` URNs (components expanded to their children, as the SDK sends them);
    #: ``dependencies`` is these plus every resource an input refers to.
    depends_on: list[str] = field(default_factory=list)
    #: Output properties the mocks answered with (inputs + fakes), cleaned like inputs.
    state: dict[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """The resource options the engine acts on, as the registration carried them."""
        return {
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "ignoreChanges": self.ignore_changes,
            "deleteBeforeReplace": self.delete_before_replace,
            "customTimeouts": self.custom_timeouts,
            "dependsOn": self.depends_on,
            "aliases": self.aliases,
        }

    def contract_dict(self) -> dict[str, Any]:
        """The entry of `resources.json` (the output contract: exactly these keys)."""
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "options": self.options(),
            "inputs": self.inputs,
        }

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:")

    @property
    def provider_urn(self) -> str:
        """The provider reference without its `::<id>` suffix."""
        return self.provider.rsplit("::", 1)[0] if self.provider else ""

    def manifest(self) -> Optional[dict[str, Any]]:
        """The Kubernetes object as `kubectl apply` would take it, or None if not one."""
        if not self.is_kubernetes or self.type == HELM_RELEASE_TYPE or not self.custom:
            return None
        if "apiVersion" not in self.inputs or "kind" not in self.inputs:
            return None
        order = ["apiVersion", "kind", "metadata"]
        obj = {k: self.inputs[k] for k in order if k in self.inputs}
        obj.update({k: v for k, v in self.inputs.items() if k not in order})
        return obj

    def helm_release(self) -> Optional[dict[str, Any]]:
        """`{name, namespace, chart, version, repository, values}` for a Helm release, else None."""
        if self.type != HELM_RELEASE_TYPE:
            return None
        chart = str(self.inputs.get("chart", ""))
        repository = (self.inputs.get("repositoryOpts") or {}).get("repo", "")
        if chart.startswith("oci://"):
            repository, chart = chart, chart.rstrip("/").rsplit("/", 1)[-1]
        return {
            "name": self.inputs.get("name") or self.name,
            "namespace": self.inputs.get("namespace", "default"),
            "chart": chart,
            "version": self.inputs.get("version", ""),
            "repository": repository,
            "values": self.inputs.get("values") or {},
        }


@dataclass
class Finding:
    """One result of a check: `{check, severity, urn, message}` in report.json."""

    check: str
    severity: str
    urn: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "severity": self.severity, "urn": self.urn, "message": self.message}


@dataclass
class Plan:
    """The result of planning one stack offline."""

    stack: str
    role: str
    resources: list[Resource]
    outputs: dict[str, Any]
    secret_outputs: list[str]
    findings: list[Finding] = field(default_factory=list)
    #: Extra report sections (sizing, cost, …) keyed by name; written into report.json.
    sections: dict[str, Any] = field(default_factory=dict)
    config: Any = None
    #: Kubernetes minor version of the target cluster ("1.33"): the platform's config, or for a
    #: client stack the `kubernetesVersion` output of its platform.
    kubernetes_version: str = "1.33"
    #: The stack's `chartVersions` (None: not recorded; read from `config`).
    chart_versions: Optional[dict[str, str]] = None
    #: A client stack's platform plan (the one its StackReference answered from); None for a platform.
    platform: Optional["Plan"] = field(default=None, repr=False)

    def by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def manifests(self) -> list[tuple[Resource, dict[str, Any]]]:
        return [(r, m) for r in self.resources if (m := r.manifest()) is not None]

    def helm_releases(self) -> list[tuple[Resource, dict[str, Any]]]:
        return [(r, h) for r in self.resources if (h := r.helm_release()) is not None]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]
