"""Every Certificate can be issued: its issuer exists, and for each of its names the ACME solver that
cert-manager will pick can actually answer the challenge.

cert-manager's choice is emulated exactly (v1.21.1 pkg/util/solverpicker/solverpicker.go and
pkg/controller/acmeorders/selectors): only solvers of a challenge type the authorization offers are
considered (a wildcard name is offered DNS-01 only, so HTTP-01 can never answer it); a solver without
selector is the lowest-priority default (the first such one wins); a `dnsNames` match (exact, `*.`
included) beats a `dnsZones` match; among zone matches the zone with the most labels wins; then the
most `matchLabels` (matched against the Certificate's labels, which its CertificateRequest and Order
carry: certificates/requestmanager, certificaterequests/acme); ties keep the earlier solver.

What "can answer" means for the picked solver:
- DNS-01 with `cnameStrategy: Follow`: the client delegates `_acme-challenge.<name>` (not checkable
  offline; the client's `dnsRecords` output lists the record);
- DNS-01 otherwise: the name lies in a zone the solver may write (its `dnsZones`, else the platform's
  configured zones and gateway domains);
- HTTP-01 through `gatewayHTTPRoute`: each parentRef names a Gateway (in the plan or its platform's)
  with a plain-HTTP port-80 listener that admits HTTPRoutes from the Certificate's namespace (the
  solver route is created there);
- HTTP-01 through an Ingress class: not used here; accepted.
"""
from __future__ import annotations

from typing import Any, Optional

from .gateways import admits, namespace_labels
from .model import Finding, Plan

CHECK = "certificate-solver"
CM_GROUP = "cert-manager.io"


def _labels(name: str) -> list[str]:
    return [p for p in name.lower().rstrip(".").split(".") if p]


def compare_domain_name(zone: str, name: str) -> int:
    """Labels ``zone`` and ``name`` share from the right (miekg/dns CompareDomainName)."""
    a, b = _labels(zone), _labels(name)
    n = 0
    while n < len(a) and n < len(b) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _selector_match(sel: dict[str, Any], labels: dict[str, str], name: str) -> Optional[tuple[int, int, int]]:
    """(labels, dnsNames, dnsZones) match counts, or None when any part does not match."""
    required = sel.get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in required.items()):
        return None
    n_labels = len(required)
    names = sel.get("dnsNames") or []
    if names and name not in names:
        return None
    n_names = 1 if names else 0
    zones = sel.get("dnsZones") or []
    n_zones = 0
    if zones:
        for zone in zones:
            matched = compare_domain_name(zone, name)
            if matched == len(_labels(zone)) and matched > n_zones:
                n_zones = matched
        if not n_zones:
            return None
    return n_labels, n_names, n_zones


def pick_solver(name: str, labels: dict[str, str], solvers: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The solver cert-manager picks for ``name`` (see the module docstring), or None."""
    wildcard = name.startswith("*.")
    selected: Optional[dict[str, Any]] = None
    counts = (0, 0, 0)
    for solver in solvers:
        if solver.get("dns01") is None and (solver.get("http01") is None or wildcard):
            continue  # the authorization offers no challenge of this solver's type
        sel = solver.get("selector")
        if sel is None:
            if selected is None:
                selected = solver
            continue
        match = _selector_match(sel, labels, name)
        if match is None:
            continue
        if selected is None:
            selected, counts = solver, match
            continue
        (l_new, n_new, z_new), (l_old, n_old, z_old) = match, counts
        if bool(n_new) != bool(n_old):
            if n_new:
                selected, counts = solver, match
            continue
        if bool(n_new) and bool(n_old):
            if z_new > z_old or (z_new == z_old and l_new > l_old):
                selected, counts = solver, match
            continue
        if bool(z_new) != bool(z_old):
            if z_new:
                selected, counts = solver, match
            continue
        if z_new and z_old:
            if z_new > z_old or (z_new == z_old and l_new > l_old):
                selected, counts = solver, match
            continue
        if l_new > l_old:
            selected, counts = solver, match
    return selected


def known_zones(plan: Plan) -> list[str]:
    """DNS zones the platform manages, from its contract outputs (its domain, gateway wildcard domains and
    delegation zone; read from outputs so a cached platform plan need not build its config model)."""
    base = plan.platform if plan.platform is not None else plan
    out = base.outputs or {}
    zones = [str(out.get("domain") or "")]
    zones += [str(w)[2:] for w in ((out.get("gateway") or {}).get("wildcardDomains") or []) if str(w).startswith("*.")]
    zones.append(str((out.get("issuers") or {}).get("dns01DelegationZone") or ""))
    return sorted({z for z in zones if z})


def in_zones(name: str, zones: list[str]) -> bool:
    bare = name[2:] if name.startswith("*.") else name
    return any(compare_domain_name(z, bare) == len(_labels(z)) for z in zones)


def analyze(plan: Plan) -> None:
    from .render import cluster_objects

    everything = cluster_objects(plan, with_platform=True)
    issuers: dict[tuple[str, str, str], Any] = {}
    gateways: dict[tuple[str, str], dict[str, Any]] = {}
    for o in everything:
        api = str(o.obj.get("apiVersion", ""))
        if api.startswith(CM_GROUP + "/") and o.kind in ("ClusterIssuer", "Issuer"):
            issuers.setdefault((o.kind, o.namespace if o.kind == "Issuer" else "", o.name), o.obj)
        elif api.startswith("gateway.networking.k8s.io/") and o.kind == "Gateway" and o.phase != "patch":
            gateways.setdefault((o.namespace, o.name), o.obj)
    ns_labels = namespace_labels(everything)
    zones = known_zones(plan)
    rows: list[dict[str, Any]] = []
    for cert in cluster_objects(plan):
        if cert.kind != "Certificate" or not str(cert.obj.get("apiVersion", "")).startswith(CM_GROUP + "/"):
            continue
        spec = cert.obj.get("spec") or {}
        ref = spec.get("issuerRef") or {}
        if (ref.get("group") or CM_GROUP) != CM_GROUP:
            continue  # an external issuer: not ours to judge
        kind = ref.get("kind") or "Issuer"
        key = (kind, cert.namespace if kind == "Issuer" else "", ref.get("name", ""))
        label = f"Certificate {cert.namespace}/{cert.name}"
        issuer = issuers.get(key)
        if issuer is None:
            plan.findings.append(Finding(CHECK, "error", cert.urn, (
                f"{label}: its issuer {kind} {ref.get('name')!r}" + (f" in {cert.namespace}" if kind == "Issuer" else "")
                + " is not in this plan or its platform's; the certificate never issues. Name an existing issuer "
                  "(the platform contract's `issuers`).")))
            continue
        acme = (issuer.get("spec") or {}).get("acme")
        names = list(spec.get("dnsNames") or []) + ([spec["commonName"]] if spec.get("commonName") and spec["commonName"] not in (spec.get("dnsNames") or []) else [])
        if acme is None:
            rows.append({"certificate": f"{cert.namespace}/{cert.name}", "issuer": key[2], "names": names, "solver": "non-ACME"})
            continue
        labels = dict((cert.obj.get("metadata") or {}).get("labels") or {})
        chosen: dict[str, str] = {}
        for name in names:
            solver = pick_solver(name, labels, list(acme.get("solvers") or []))
            problem = _cannot_answer(name, solver, cert.namespace, gateways, ns_labels, zones)
            chosen[name] = _describe(solver)
            if problem:
                plan.findings.append(Finding(CHECK, "error", cert.urn, (
                    f"{label}: {kind} {key[2]} cannot answer the ACME challenge for {name}: {problem}. The certificate "
                    "never issues and its listener has no Secret.")))
        rows.append({"certificate": f"{cert.namespace}/{cert.name}", "issuer": key[2], "names": names, "solvers": chosen})
    if rows:
        plan.sections["certificates"] = {
            "title": "certificates and the ACME solver cert-manager picks for each name",
            "text": [f"{r['certificate']} ({r['issuer']}): " + (", ".join(f"{n} → {s}" for n, s in r.get("solvers", {}).items())
                                                              or r.get("solver", "")) for r in rows],
            "data": rows}


def _describe(solver: Optional[dict[str, Any]]) -> str:
    if solver is None:
        return "none"
    if solver.get("dns01") is not None:
        follow = solver["dns01"].get("cnameStrategy") == "Follow"
        return "DNS-01" + (" (CNAME-delegated)" if follow else "")
    return "HTTP-01"


def _cannot_answer(name: str, solver: Optional[dict[str, Any]], cert_ns: str, gateways: dict, ns_labels: dict,
                   zones: list[str]) -> Optional[str]:
    wildcard = name.startswith("*.")
    if solver is None:
        return ("no solver matches it (\"no configured challenge solvers\")"
                + (": a wildcard needs a DNS-01 solver for its zone" if wildcard else
                   ": add an HTTP-01 solver (gatewayHTTPRoute) without selector, or a DNS-01 solver whose dnsZones cover it"))
    dns01 = solver.get("dns01")
    if dns01 is not None:
        if dns01.get("cnameStrategy") == "Follow":
            return None
        sel_zones = (solver.get("selector") or {}).get("dnsZones") or zones
        if not in_zones(name, sel_zones):
            return (f"its DNS-01 solver writes only to the zones {', '.join(sel_zones) or '(none known)'}; give it a "
                    "dnsZones selector so other names fall through to HTTP-01, or delegate the name (dns01-cname)")
        return None
    route = (solver.get("http01") or {}).get("gatewayHTTPRoute")
    if route is None:
        return None  # an ingress-based HTTP-01 solver: not modelled
    for ref in route.get("parentRefs") or []:
        gw_key = (ref.get("namespace") or cert_ns, ref.get("name", ""))
        gw = gateways.get(gw_key)
        if gw is None:
            return f"its HTTP-01 solver attaches to Gateway {gw_key[0]}/{gw_key[1]}, which does not exist"
        listeners = [lst for lst in (gw.get("spec") or {}).get("listeners") or []
                     if ref.get("sectionName") in (None, lst.get("name"))]
        plain = [lst for lst in listeners if lst.get("protocol") == "HTTP" and int(lst.get("port", 0)) == 80]
        if not plain:
            return (f"Gateway {gw_key[0]}/{gw_key[1]} has no plain-HTTP port-80 listener "
                    f"{ref.get('sectionName') or ''} for the HTTP-01 challenge")
        lst = plain[0]
        if not admits((lst.get("allowedRoutes") or {}).get("namespaces"), gw_key[0], cert_ns, ns_labels):
            return (f"cert-manager creates the challenge route in the Certificate's namespace {cert_ns}, but listener "
                    f"{lst.get('name')} of Gateway {gw_key[0]}/{gw_key[1]} does not admit routes from it; create the "
                    f"Certificate in {gw_key[0]}")
    return None


__all__ = ["analyze", "compare_domain_name", "known_zones", "pick_solver"]
