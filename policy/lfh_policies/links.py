"""Finding which resources of a stack belong together (a bucket and its encryption config, a cluster
and its OIDC provider) from what the engine gives a stack policy: property dependencies first, then
plain dependencies, then matching values."""
from __future__ import annotations

from typing import Any, Iterable, Optional

from .common import get


def of_types(resources: Iterable[Any], types: Iterable[str]) -> list[Any]:
    wanted = set(types)
    return [r for r in resources if r.resource_type in wanted]


def depends_on(r: Any, target: Any, prop: Optional[str] = None) -> bool:
    """`r` takes an input from `target` (through `prop` if given) or depends on it explicitly."""
    urn = target.urn
    pdeps = r.property_dependencies or {}
    keys = [prop] if prop else list(pdeps)
    for key in keys:
        if any(getattr(d, "urn", d) == urn for d in pdeps.get(key, []) or []):
            return True
    return prop is None and any(getattr(d, "urn", d) == urn for d in (r.dependencies or []))


def linked(r: Any, target: Any, prop: str, target_values: Iterable[Any] = ()) -> bool:
    """`r.props[prop]` refers to `target`: by property dependency, or by one of the target's values."""
    if depends_on(r, target, prop):
        return True
    value = get(r.props, prop)
    return value is not None and str(value) in {str(v) for v in target_values if v not in (None, "")}


def ancestors(r: Any) -> Iterable[Any]:
    seen = set()
    cur = r.parent
    while cur is not None and cur.urn not in seen:
        seen.add(cur.urn)
        yield cur
        cur = cur.parent


def transitive_dependencies(r: Any, by_urn: dict[str, Any]) -> set[str]:
    """URNs `r` waits for: its dependencies and property dependencies, theirs, and those of its
    parent chain (a child of a component that depends on X is created after X), transitively."""
    out: set[str] = set()
    stack = [r, *ancestors(r)]
    while stack:
        cur = stack.pop()
        direct = list(cur.dependencies or [])
        for deps in (cur.property_dependencies or {}).values():
            direct.extend(deps or [])
        for d in direct:
            urn = getattr(d, "urn", d)
            if urn in out:
                continue
            out.add(urn)
            node = by_urn.get(urn)
            if node is not None:
                stack.append(node)
                stack.extend(ancestors(node))
    return out


def children_of(resources: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in resources:
        if r.parent is not None:
            out.setdefault(r.parent.urn, []).append(r)
    return out


def descendants(urn: str, children: dict[str, list[Any]]) -> Iterable[Any]:
    todo = list(children.get(urn, []))
    while todo:
        c = todo.pop()
        yield c
        todo.extend(children.get(c.urn, []))
