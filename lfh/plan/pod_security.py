"""Pod Security admission, offline: every pod the cluster will run against the `enforce` level of its
namespace, with the Pod Security Standards' baseline and restricted rules as Kubernetes defines them.

Source of every rule: the Pod Security Standards page
(https://kubernetes.io/docs/concepts/security/pod-security-standards/, "PSS" below) and the admission
controller that implements it, k8s.io/pod-security-admission `policy/check_<id>.go` (the rule ids are
its check ids; versions are its `MinimumVersion`s). The admission controller evaluates the policy
version the namespace pins (`pod-security.kubernetes.io/enforce-version`, `latest` = the cluster's
own minor), so rules are selected by the cluster's Kubernetes version.

Namespace levels come from our Namespace objects (the platform's too, for a client plan). A namespace
without an `enforce` label is `privileged`: that is the admission controller's default
(pod-security-admission `admission/api` defaults, PSS "Pod Security Admission" page), and the plan
says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .model import Finding, Plan
from .pods import pod_templates
from .render import cluster_objects

CHECK = "pod-security"
LEVELS = ("privileged", "baseline", "restricted")
ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"

Version = tuple[int, int]
Meta = dict[str, Any]
Spec = dict[str, Any]


# ---------------------------------------------------------------- small readers


def _sc(obj: Any) -> dict[str, Any]:
    sc = obj.get("securityContext") if isinstance(obj, dict) else None
    return sc if isinstance(sc, dict) else {}


def _containers(spec: Spec) -> list[dict[str, Any]]:
    """Init containers, containers, ephemeral containers: the order `visitContainers` uses."""
    return [c for key in ("initContainers", "containers", "ephemeralContainers")
            for c in (spec.get(key) or []) if isinstance(c, dict)]


def _names(items: list[dict[str, Any]]) -> str:
    return ", ".join(f'"{c.get("name", "?")}"' for c in items)


def _windows(spec: Spec) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"


def _user_namespace(spec: Spec) -> bool:
    """`hostUsers: false` (a user-namespaced pod): relaxes some rules from 1.35 (helpers.go)."""
    return spec.get("hostUsers") is False


def _int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- the rules (each returns what is wrong, or "")


def host_process(meta: Meta, spec: Spec) -> str:
    bad = [c for c in _containers(spec) if (_sc(c).get("windowsOptions") or {}).get("hostProcess") is True]
    pod = (_sc(spec).get("windowsOptions") or {}).get("hostProcess") is True
    if bad or pod:
        return f"{'pod and ' if pod and bad else 'pod ' if pod else ''}{('containers ' + _names(bad)) if bad else ''} set securityContext.windowsOptions.hostProcess=true"
    return ""


def host_namespaces(meta: Meta, spec: Spec) -> str:
    on = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    return ", ".join(on)


def privileged(meta: Meta, spec: Spec) -> str:
    bad = [c for c in _containers(spec) if _sc(c).get("privileged") is True]
    return f"containers {_names(bad)} set securityContext.privileged=true" if bad else ""


#: PSS baseline "Capabilities": the default (container runtime) set that may be added.
BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})


def capabilities_baseline(meta: Meta, spec: Spec) -> str:
    bad, caps = [], set()
    for c in _containers(spec):
        added = {str(x) for x in ((_sc(c).get("capabilities") or {}).get("add") or [])} - BASELINE_CAPABILITIES
        if added:
            bad.append(c)
            caps |= added
    return f"containers {_names(bad)} add non-default capabilities {sorted(caps)}" if bad else ""


def host_path_volumes(meta: Meta, spec: Spec) -> str:
    bad = [v.get("name", "?") for v in spec.get("volumes") or [] if isinstance(v, dict) and v.get("hostPath") is not None]
    return f"hostPath volumes {bad}" if bad else ""


def host_ports(meta: Meta, spec: Spec) -> str:
    ports = sorted({int(p["hostPort"]) for c in _containers(spec) for p in c.get("ports") or []
                    if isinstance(p, dict) and _int(p.get("hostPort"))})
    return f"hostPorts {ports}" if ports else ""


def app_armor(meta: Meta, spec: Spec) -> str:
    bad = []
    for where, sc in [("pod", _sc(spec))] + [(f'container "{c.get("name")}"', _sc(c)) for c in _containers(spec)]:
        profile = (sc.get("appArmorProfile") or {}).get("type")
        if profile is not None and profile not in ("RuntimeDefault", "Localhost"):
            bad.append(f"{where} appArmorProfile.type={profile}")
    for key, value in (meta.get("annotations") or {}).items():
        if str(key).startswith("container.apparmor.security.beta.kubernetes.io/") and value and \
                value != "runtime/default" and not str(value).startswith("localhost/"):
            bad.append(f"annotation {key}={value}")
    return "; ".join(bad)


def se_linux(allowed_types: frozenset[str]) -> Callable[[Meta, Spec], str]:
    def check(meta: Meta, spec: Spec) -> str:
        bad = []
        for where, sc in [("pod", _sc(spec))] + [(f'container "{c.get("name")}"', _sc(c)) for c in _containers(spec)]:
            opts = sc.get("seLinuxOptions")
            if not isinstance(opts, dict):
                continue
            if str(opts.get("type") or "") not in allowed_types or opts.get("user") or opts.get("role"):
                bad.append(f"{where} seLinuxOptions {opts}")
        return "; ".join(bad)
    return check


def proc_mount(relax_user_namespace: bool) -> Callable[[Meta, Spec], str]:
    def check(meta: Meta, spec: Spec) -> str:
        if relax_user_namespace and _user_namespace(spec):
            return ""
        bad = [c for c in _containers(spec) if _sc(c).get("procMount") not in (None, "Default")]
        return f"containers {_names(bad)} set securityContext.procMount != Default" if bad else ""
    return check


_SECCOMP_OK = ("RuntimeDefault", "Localhost")


def seccomp_annotations(meta: Meta, spec: Spec) -> str:
    bad = []
    for key, value in (meta.get("annotations") or {}).items():
        if key == "seccomp.security.alpha.kubernetes.io/pod" or str(key).startswith("container.seccomp.security.alpha.kubernetes.io/"):
            if value not in ("runtime/default", "docker/default") and not str(value).startswith("localhost/"):
                bad.append(f"{key}={value}")
    return f"forbidden annotations {bad}" if bad else ""


def seccomp_baseline(meta: Meta, spec: Spec) -> str:
    bad = []
    pod = (_sc(spec).get("seccompProfile") or {}).get("type")
    if pod is not None and pod not in _SECCOMP_OK:
        bad.append(f"pod seccompProfile.type={pod}")
    for c in _containers(spec):
        t = (_sc(c).get("seccompProfile") or {}).get("type")
        if t is not None and t not in _SECCOMP_OK:
            bad.append(f'container "{c.get("name")}" seccompProfile.type={t}')
    return "; ".join(bad)


#: PSS baseline "Sysctls": the safe set, by the version that added each (check_sysctls.go).
SAFE_SYSCTLS: list[tuple[Version, frozenset[str]]] = [
    ((1, 0), frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                        "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"})),
    ((1, 27), frozenset({"net.ipv4.ip_local_reserved_ports"})),
    ((1, 29), frozenset({"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                         "net.ipv4.tcp_keepalive_probes"})),
    ((1, 32), frozenset({"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})),
    ((1, 37), frozenset({"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"})),
]


def sysctls(version: Version) -> Callable[[Meta, Spec], str]:
    safe = frozenset().union(*(names for since, names in SAFE_SYSCTLS if since <= version))

    def check(meta: Meta, spec: Spec) -> str:
        bad = [s.get("name") for s in _sc(spec).get("sysctls") or [] if isinstance(s, dict) and s.get("name") not in safe]
        return f"unsafe sysctls {bad}" if bad else ""
    return check


def host_probes(meta: Meta, spec: Spec) -> str:
    bad = set()
    for c in _containers(spec):
        handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [(c.get("lifecycle") or {}).get(h) for h in ("postStart", "preStop")]
        for h in handlers:
            for kind in ("httpGet", "tcpSocket"):
                host = ((h or {}).get(kind) or {}).get("host") if isinstance(h, dict) else None
                if host:
                    bad.add(f'container "{c.get("name")}" {kind}.host={host}')
    return "; ".join(sorted(bad))


#: PSS restricted "Volume Types": the only inline volume sources allowed (check_restrictedVolumes.go).
RESTRICTED_VOLUME_SOURCES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                                       "persistentVolumeClaim", "projected", "secret"})


def restricted_volumes(meta: Meta, spec: Spec) -> str:
    bad = []
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        sources = set(v) - {"name"}
        if not sources & RESTRICTED_VOLUME_SOURCES:
            bad.append(f"{v.get('name')} ({', '.join(sorted(sources)) or 'no source'})")
    return f"volumes of restricted types: {bad}" if bad else ""


def allow_privilege_escalation(windows_exempt: bool) -> Callable[[Meta, Spec], str]:
    def check(meta: Meta, spec: Spec) -> str:
        if windows_exempt and _windows(spec):
            return ""
        bad = [c for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
        return f"containers {_names(bad)} must set securityContext.allowPrivilegeEscalation=false" if bad else ""
    return check


def run_as_non_root(relax_user_namespace: bool) -> Callable[[Meta, Spec], str]:
    def check(meta: Meta, spec: Spec) -> str:
        if relax_user_namespace and _user_namespace(spec):
            return ""
        pod = _sc(spec).get("runAsNonRoot")
        explicit = [c for c in _containers(spec) if _sc(c).get("runAsNonRoot") is False]
        if pod is False or explicit:
            return f"{'pod ' if pod is False else ''}{('containers ' + _names(explicit)) if explicit else ''} set runAsNonRoot=false"
        implicit = [c for c in _containers(spec) if _sc(c).get("runAsNonRoot") is None and pod is not True]
        return f"pod or containers {_names(implicit)} must set securityContext.runAsNonRoot=true" if implicit else ""
    return check


def run_as_user(relax_user_namespace: bool) -> Callable[[Meta, Spec], str]:
    def check(meta: Meta, spec: Spec) -> str:
        if relax_user_namespace and _user_namespace(spec):
            return ""
        bad = (["pod"] if _int(_sc(spec).get("runAsUser")) == 0 else []) + [
            f'container "{c.get("name")}"' for c in _containers(spec) if _int(_sc(c).get("runAsUser")) == 0]
        return f"{', '.join(bad)} set runAsUser=0" if bad else ""
    return check


def seccomp_restricted(windows_exempt: bool) -> Callable[[Meta, Spec], str]:
    def check(meta: Meta, spec: Spec) -> str:
        if windows_exempt and _windows(spec):
            return ""
        explicit = seccomp_baseline(meta, spec)
        if explicit:
            return explicit
        pod_set = (_sc(spec).get("seccompProfile") or {}).get("type") in _SECCOMP_OK
        implicit = [c for c in _containers(spec) if not pod_set and (_sc(c).get("seccompProfile") or {}).get("type") is None]
        return (f'pod or containers {_names(implicit)} must set securityContext.seccompProfile.type to '
                '"RuntimeDefault" or "Localhost"') if implicit else ""
    return check


def capabilities_restricted(windows_exempt: bool) -> Callable[[Meta, Spec], str]:
    def check(meta: Meta, spec: Spec) -> str:
        if windows_exempt and _windows(spec):
            return ""
        problems = []
        missing = [c for c in _containers(spec) if "ALL" not in ((_sc(c).get("capabilities") or {}).get("drop") or [])]
        if missing:
            problems.append(f'containers {_names(missing)} must set securityContext.capabilities.drop=["ALL"]')
        adding = {c.get("name"): sorted({str(x) for x in (_sc(c).get("capabilities") or {}).get("add") or []} - {"NET_BIND_SERVICE"})
                  for c in _containers(spec)}
        adding = {k: v for k, v in adding.items() if v}
        if adding:
            problems.append(f"containers add capabilities other than NET_BIND_SERVICE: {adding}")
        return "; ".join(problems)
    return check


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Versioned:
    since: Version
    check: Callable[[Meta, Spec], str]
    #: Baseline checks this restricted check replaces at that version (`OverrideCheckIDs`).
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    control: str
    versions: tuple[Versioned, ...]
    fix: str
    cite: str = field(default=PSS)

    def at(self, version: Version) -> Optional[Versioned]:
        usable = [v for v in self.versions if v.since <= version]
        return usable[-1] if usable else None


_B, _R = "baseline", "restricted"
_SELINUX = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
RULES: list[Rule] = [
    # PSS baseline "HostProcess" — policy/check_windowsHostProcess.go
    Rule("windowsHostProcess", _B, "HostProcess", (Versioned((1, 0), host_process,),),
         "remove securityContext.windowsOptions.hostProcess", PSS + "#baseline"),
    # PSS baseline "Host Namespaces" — policy/check_hostNamespaces.go
    Rule("hostNamespaces", _B, "Host Namespaces", (Versioned((1, 0), host_namespaces),),
         "remove hostNetwork/hostPID/hostIPC from the pod spec", PSS + "#baseline"),
    # PSS baseline "Privileged Containers" — policy/check_privileged.go
    Rule("privileged", _B, "Privileged Containers", (Versioned((1, 0), privileged),),
         "remove securityContext.privileged: true", PSS + "#baseline"),
    # PSS baseline "Capabilities" — policy/check_capabilities_baseline.go
    Rule("capabilities_baseline", _B, "Capabilities", (Versioned((1, 0), capabilities_baseline),),
         "add no capabilities beyond the runtime's default set", PSS + "#baseline"),
    # PSS baseline "HostPath Volumes" — policy/check_hostPathVolumes.go
    Rule("hostPathVolumes", _B, "HostPath Volumes", (Versioned((1, 0), host_path_volumes),),
         "replace hostPath volumes (emptyDir, a PVC, a ConfigMap/Secret)", PSS + "#baseline"),
    # PSS baseline "Host Ports" — policy/check_hostPorts.go
    Rule("hostPorts", _B, "Host Ports", (Versioned((1, 0), host_ports),),
         "remove hostPort; expose the port through a Service", PSS + "#baseline"),
    # PSS baseline "AppArmor" — policy/check_appArmorProfile.go
    Rule("appArmorProfile", _B, "AppArmor", (Versioned((1, 0), app_armor),),
         "use appArmorProfile RuntimeDefault or Localhost (or leave it unset)", PSS + "#baseline"),
    # PSS baseline "SELinux" — policy/check_seLinuxOptions.go (container_engine_t allowed from 1.31)
    Rule("seLinuxOptions", _B, "SELinux", (Versioned((1, 0), se_linux(_SELINUX)),
                                           Versioned((1, 31), se_linux(_SELINUX | {"container_engine_t"}))),
         "set no SELinux user/role and only a container_* type", PSS + "#baseline"),
    # PSS baseline "/proc Mount Type" — policy/check_procMount_baseline.go (user namespaces relaxed from 1.35)
    Rule("procMount", _B, "/proc Mount Type", (Versioned((1, 0), proc_mount(False)), Versioned((1, 35), proc_mount(True))),
         "leave securityContext.procMount unset (Default)", PSS + "#baseline"),
    # PSS baseline "Seccomp" — policy/check_seccompProfile_baseline.go (annotations before 1.19)
    Rule("seccompProfile_baseline", _B, "Seccomp", (Versioned((1, 0), seccomp_annotations), Versioned((1, 19), seccomp_baseline)),
         "never set seccompProfile Unconfined", PSS + "#baseline"),
    # PSS baseline "Sysctls" — policy/check_sysctls.go (the safe set grows by version)
    Rule("sysctls", _B, "Sysctls", tuple(Versioned(since, sysctls(since)) for since, _ in SAFE_SYSCTLS),
         "set only the safe sysctls", PSS + "#baseline"),
    # PSS baseline "Host Probes / Lifecycle Hooks" (v1.34+) — policy/check_hostProbesAndhostLifecycle.go
    Rule("hostProbesAndHostLifecycle", _B, "Host Probes / Lifecycle Hooks", (Versioned((1, 34), host_probes),),
         "remove `host` from httpGet/tcpSocket probes and lifecycle handlers", PSS + "#baseline"),
    # PSS restricted "Volume Types" — policy/check_restrictedVolumes.go (replaces hostPathVolumes)
    Rule("restrictedVolumes", _R, "Volume Types", (Versioned((1, 0), restricted_volumes, ("hostPathVolumes",)),),
         "use only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected, secret volumes",
         PSS + "#restricted"),
    # PSS restricted "Privilege Escalation" — policy/check_allowPrivilegeEscalation.go (Windows pods exempt from 1.25)
    Rule("allowPrivilegeEscalation", _R, "Privilege Escalation",
         (Versioned((1, 8), allow_privilege_escalation(False)), Versioned((1, 25), allow_privilege_escalation(True))),
         "set securityContext.allowPrivilegeEscalation: false on every container", PSS + "#restricted"),
    # PSS restricted "Running as Non-root" — policy/check_runAsNonRoot.go (user namespaces relaxed from 1.35)
    Rule("runAsNonRoot", _R, "Running as Non-root",
         (Versioned((1, 0), run_as_non_root(False)), Versioned((1, 35), run_as_non_root(True))),
         "set securityContext.runAsNonRoot: true (pod or every container)", PSS + "#restricted"),
    # PSS restricted "Running as Non-root user" (v1.23+) — policy/check_runAsUser.go
    Rule("runAsUser", _R, "Running as Non-root user",
         (Versioned((1, 23), run_as_user(False)), Versioned((1, 35), run_as_user(True))),
         "never set runAsUser: 0", PSS + "#restricted"),
    # PSS restricted "Seccomp" (v1.19+) — policy/check_seccompProfile_restricted.go (replaces the baseline check)
    Rule("seccompProfile_restricted", _R, "Seccomp",
         (Versioned((1, 19), seccomp_restricted(False), ("seccompProfile_baseline",)),
          Versioned((1, 25), seccomp_restricted(True), ("seccompProfile_baseline",))),
         "set securityContext.seccompProfile.type: RuntimeDefault on the pod", PSS + "#restricted"),
    # PSS restricted "Capabilities" (v1.22+) — policy/check_capabilities_restricted.go (replaces the baseline check)
    Rule("capabilities_restricted", _R, "Capabilities",
         (Versioned((1, 22), capabilities_restricted(False), ("capabilities_baseline",)),
          Versioned((1, 25), capabilities_restricted(True), ("capabilities_baseline",))),
         "set capabilities.drop: [ALL] and add at most NET_BIND_SERVICE", PSS + "#restricted"),
    # PSS restricted "/proc Mount Type" (v1.35+) — policy/check_procMount_restricted.go (replaces the baseline check)
    Rule("procMount_restricted", _R, "/proc Mount Type",
         (Versioned((1, 35), proc_mount(False), ("procMount",)),),
         "leave securityContext.procMount unset (Default)", PSS + "#restricted"),
]


def rules_for(level: str, version: Version) -> list[tuple[Rule, Versioned]]:
    """The rules the admission controller evaluates for ``level`` at policy ``version``."""
    if level not in LEVELS or level == "privileged":
        return []
    wanted = LEVELS[: LEVELS.index(level) + 1]
    chosen = [(r, v) for r in RULES if r.level in wanted and (v := r.at(version)) is not None]
    overridden = {o for _, v in chosen for o in v.overrides}
    return [(r, v) for r, v in chosen if r.id not in overridden]


def violations(meta: Meta, spec: Spec, level: str, version: Version) -> list[tuple[Rule, str]]:
    out = []
    for rule, versioned in rules_for(level, version):
        detail = versioned.check(meta or {}, spec or {})
        if detail:
            out.append((rule, detail))
    return out


# ---------------------------------------------------------------- namespaces and the analyzer


def _version(text: Any) -> Optional[Version]:
    parts = str(text or "").lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


@dataclass
class NamespaceLevel:
    level: str
    version: Version
    #: "label" (our Namespace sets it), "default" (a namespace of ours without the label), "unknown"
    #: (a namespace the plan does not create: the cluster's or a pre-existing one).
    source: str


def namespace_levels(plan: Plan, cluster_version: Version) -> dict[str, NamespaceLevel]:
    out: dict[str, NamespaceLevel] = {}
    for o in cluster_objects(plan, with_platform=True):
        if o.kind != "Namespace":
            continue
        labels = (o.obj.get("metadata") or {}).get("labels") or {}
        level = labels.get(ENFORCE)
        pinned = _version(labels.get(ENFORCE_VERSION))
        version = min(pinned, cluster_version) if pinned else cluster_version  # `latest` = the cluster's
        out[o.name] = NamespaceLevel(str(level) if level else "privileged", version, "label" if level else "default")
    return out


def analyze(plan: Plan) -> None:
    cluster_version = _version(plan.kubernetes_version) or (1, 33)
    levels = namespace_levels(plan, cluster_version)
    told: set[str] = set()
    for t in pod_templates(plan):
        ns = t.namespace
        level = levels.get(ns) or NamespaceLevel("privileged", cluster_version, "unknown")
        if level.source != "label" and ns not in told:
            told.add(ns)
            why = ("its Namespace object sets no " + ENFORCE + " label" if level.source == "default"
                   else "the plan does not create it, so its labels are unknown")
            plan.findings.append(Finding(CHECK, "warning" if level.source == "default" else "info", t.owner.urn,
                                         f"namespace {ns or '<none>'}: {why}; Pod Security admits every pod there "
                                         f"(`privileged`, the admission default); label it with {ENFORCE}"))
        if level.level not in LEVELS:
            plan.findings.append(Finding(CHECK, "error", t.owner.urn,
                                         f"namespace {ns}: {ENFORCE}={level.level!r} is not one of {LEVELS}"))
            continue
        for rule, detail in violations(t.metadata, t.spec, level.level, level.version):
            plan.findings.append(Finding(
                CHECK, "error", t.owner.urn,
                f"{t.label()}: Pod Security `{level.level}` (enforced in namespace {ns}, policy "
                f"v{level.version[0]}.{level.version[1]}) rejects its pods — {rule.control} ({rule.id}): {detail}; "
                f"fix: {rule.fix} ({rule.cite})"))


__all__ = ["LEVELS", "RULES", "Rule", "analyze", "namespace_levels", "rules_for", "violations"]
