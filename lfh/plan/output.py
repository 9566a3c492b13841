"""Writing a plan to disk (the output contract) and summarising it on stdout."""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from .model import Plan


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml when present: same text, ~5× faster
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", part).strip("_") or "_"


def manifest_filename(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or "_cluster"
    return f"{_safe(ns)}__{_safe(str(obj.get('kind', 'Object')).lower())}__{_safe(str(meta.get('name', 'unnamed')))}.yaml"


def rendered_filename(ro: Any) -> str:
    """A rendered object's file: `helm.<release namespace>.<release>__<namespace>__<kind>__<name>.yaml`
    (the release that makes it first, so ours and each release's sort apart)."""
    obj = dict(ro.obj)
    if not (obj.get("metadata") or {}).get("namespace") and ro.namespace:
        obj["metadata"] = {**(obj.get("metadata") or {}), "namespace": ro.namespace}
    return f"helm.{_safe(ro.release.namespace)}.{_safe(ro.release.name)}__{manifest_filename(obj)}"


class _Output:
    """Writes a plan's files into a folder that ends up holding exactly them: a file whose content did not
    change is left alone (its mtime shows what a re-plan changed, and a plan of hundreds of rendered
    objects does not delete and re-create them all), and what an earlier plan left is removed."""

    def __init__(self, out: Path):
        self.out = out
        self.written: set[Path] = set()
        self.names: set[str] = set()

    def write(self, path: Path, text: str) -> None:
        self.written.add(path)
        try:
            if path.read_text() == text:
                return
        except (OSError, UnicodeDecodeError):
            pass
        path.write_text(text)

    def unique(self, folder: str, name: str, text: str) -> None:
        """Object files are unique across manifests/, hooks/ and crds/ (`__2`, `__3` … on a clash)."""
        stem, n = name[:-5], 2
        while name in self.names:
            name, n = f"{stem}__{n}.yaml", n + 1
        self.names.add(name)
        self.write(self.out / folder / name, text)

    def prune(self, folders: tuple[str, ...]) -> None:
        for entry in list(self.out.iterdir()):
            if entry.name in folders and entry.is_dir():
                for child in entry.iterdir():
                    if child not in self.written:
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
            elif entry not in self.written:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def write_plan(plan: Plan, out: Path) -> None:
    """Write resources.json, manifests/, hooks/, crds/, helm/, images.txt and report.json under ``out``
    (which then holds exactly these). Rendered Helm objects go to manifests/ beside ours (file names say which release
    made them); the releases' hooks (Jobs Helm runs around an install) and CRDs (installed once) are
    listed apart in hooks/ and crds/."""
    from .images import images_txt
    from .render import rendered

    out = Path(out)
    files = _Output(out)
    folders = ("manifests", "hooks", "crds", "helm")
    for folder in folders:
        if (out / folder).exists() and not (out / folder).is_dir():
            (out / folder).unlink()
        (out / folder).mkdir(parents=True, exist_ok=True)
    # By URN: registrations that wait on other resources finish in no fixed order, and a plan must
    # diff cleanly between two runs of the same code.
    ordered = sorted(plan.resources, key=lambda r: r.urn)
    files.write(out / "resources.json", json.dumps([r.contract_dict() for r in ordered], indent=2) + "\n")
    for _, obj in plan.manifests():
        files.unique("manifests", manifest_filename(obj), dump_yaml(obj))
    phase_folder = {"object": "manifests", "hook": "hooks", "crd": "crds"}
    for rel in rendered(plan):
        for ro in rel.everything():
            # As Helm rendered it (its `# Source:` line included); a Secret is written from its masked object.
            text = f"{ro.text}\n" if ro.text else dump_yaml(ro.obj)
            files.unique(phase_folder[ro.phase], rendered_filename(ro), text)
    for _, rel in plan.helm_releases():
        files.write(out / "helm" / f"{_safe(rel['namespace'])}__{_safe(rel['name'])}.yaml", dump_yaml(rel))
    files.write(out / "images.txt", images_txt(plan))
    report = {
        "stack": plan.stack,
        "role": plan.role,
        "counts": {"resources": len(plan.resources), "findings": _severity_counts(plan)},
        "findings": [f.as_dict() for f in plan.findings],
    }
    for key, section in plan.sections.items():
        report[key] = section.get("data", section)
    files.write(out / "report.json", json.dumps(report, indent=2, default=str) + "\n")
    files.prune(folders)


def _severity_counts(plan: Plan) -> dict[str, int]:
    c = Counter(f.severity for f in plan.findings)
    return {s: c.get(s, 0) for s in ("error", "warning", "info")}


def render_summary(plan: Plan, out: Path | None = None) -> str:
    """The readable stdout view: the component tree, counts by type, sections, findings."""
    lines = [f"stack {plan.stack} ({plan.role}): {len(plan.resources)} resources"]
    children: dict[str, list] = {}
    urns = {r.urn for r in plan.resources}
    for r in plan.resources:
        children.setdefault(r.parent if r.parent in urns else "", []).append(r)

    def walk(parent: str, depth: int) -> None:
        for r in children.get(parent, []):
            kind = r.type if r.custom else f"[{r.type}]"
            flags = " (protected)" if r.protect else ""
            lines.append(f"{'  ' * depth}{'└─ ' if depth else ''}{r.name}  {kind}{flags}")
            walk(r.urn, depth + 1)

    walk("", 1)
    lines.append("")
    lines.append("resources by type:")
    for type_, n in sorted(Counter(r.type for r in plan.resources).items()):
        lines.append(f"  {n:4d}  {type_}")
    for section in plan.sections.values():
        if section.get("text"):
            lines.append("")
            lines.append(section.get("title", ""))
            lines.extend("  " + t for t in section["text"])
    lines.append("")
    counts = _severity_counts(plan)
    lines.append(f"findings: {counts['error']} error, {counts['warning']} warning, {counts['info']} info")
    for f in plan.findings:
        if f.severity in ("error", "warning"):
            lines.append(f"  {f.severity.upper():7s} {f.check}: {f.message}  [{f.urn.rsplit('::', 1)[-1]}]")
    if out is not None:
        lines.append(f"written to {out}/")
    return "\n".join(lines)
