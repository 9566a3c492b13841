"""Where a pinned chart's files come from, so a plan can render it offline.

Two places, in this order:

1. **The chart cache** (`python -m lfh charts pull`): each chart of `lfh.charts.CHARTS` fetched with
   Helm's own Go SDK (PyPI `helm-python-sdk`, no helm binary) from its HTTP repository or OCI
   registry, its archive digest recorded (and, for an HTTP repository, compared with the digest the
   repository's `index.yaml` publishes), then unpacked. Default folder `.cache/charts/` in the project
   (`LFH_CHART_CACHE` moves it); its `index.json` records what was pulled.
2. **Offline, the unpacked pinned charts** in `../shared/upstream/charts/` (the `chart_dir` key of each
   entry of `charts.yaml`; `charts/SOURCE.md` says where each came from).

A chart in neither place (or only at another version) is not rendered: the plan reports it as an
error finding, never a silent skip (see `lfh.plan.render`).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from . import PROJECT_ROOT
from .charts import CHARTS, Chart
from .upstream import charts_index, upstream_dir

CACHE_ENV = "LFH_CHART_CACHE"
INDEX_FILE = "index.json"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or PROJECT_ROOT / ".cache" / "charts")


@dataclass(frozen=True)
class ChartSource:
    """One chart's unpacked folder, where it came from and (for a pulled chart) its archive digest."""

    key: str
    version: str
    path: Path
    origin: str  # "cache" | "upstream"
    digest: Optional[str] = None

    @property
    def identity(self) -> str:
        """What a render cache keys on: the digest when known, else the folder and its Chart.yaml."""
        if self.digest:
            return self.digest
        chart_yaml = self.path / "Chart.yaml"
        st = chart_yaml.stat()
        return f"{self.path}|{st.st_size}|{st.st_mtime_ns}"


def _read_index(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / INDEX_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _chart_version(folder: Path) -> Optional[str]:
    try:
        meta = yaml.safe_load((folder / "Chart.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    return str(meta.get("version")) if meta.get("version") is not None else None


def locate(chart: Chart, version: Optional[str] = None) -> Optional[ChartSource]:
    """The unpacked folder of ``chart`` at ``version`` (default: the pinned one), or None."""
    version = version or chart.version
    entry = _read_index(cache_root()).get(f"{chart.key}@{version}")
    if entry:
        folder = cache_root() / entry["dir"]
        if _chart_version(folder) == version:
            return ChartSource(chart.key, version, folder, "cache", entry.get("digest"))
    root = upstream_dir()
    if root is not None:
        up = (charts_index(str(root)).get("charts") or {}).get(chart.key) or {}
        if up.get("chart_dir"):
            folder = root / up["chart_dir"]
            if _chart_version(folder) == version:
                return ChartSource(chart.key, version, folder, "upstream")
    return None


def where_to_get(chart: Chart, version: Optional[str] = None) -> str:
    """The sentence a missing-chart finding ends with."""
    version = version or chart.version
    return (f"run `python -m lfh charts pull` (fetches {chart.chart} {version} from {chart.repository} into "
            f"{cache_root()}), or provide ../shared/upstream/charts/ with it (LFH_UPSTREAM_DIR)")


@dataclass
class Pulled:
    key: str
    version: str
    digest: str
    path: Path
    status: str  # "pulled" | "cached"


class PullError(Exception):
    pass


def pull(charts: Optional[Iterable[Chart]] = None, *, versions: Optional[dict[str, str]] = None,
         force: bool = False) -> list[Pulled]:
    """Fetch each chart into the cache, check and record its digest, unpack it.

    ``versions`` overrides a pin per chart key (a stack's `chartVersions`). A chart already in the
    cache at that version is kept unless ``force``; a re-pull whose digest differs from the recorded
    one is refused (the same version must never change under us).
    """
    import helm_python as helm

    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    index = _read_index(root)
    done: list[Pulled] = []
    for chart in (list(charts) if charts is not None else list(CHARTS.values())):
        version = (versions or {}).get(chart.key, chart.version)
        entry_key = f"{chart.key}@{version}"
        known = index.get(entry_key)
        if known and not force and _chart_version(root / known["dir"]) == version:
            done.append(Pulled(chart.key, version, known["digest"], root / known["dir"], "cached"))
            continue
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            try:
                if chart.is_oci:
                    result = helm.pull(chart.repository, version=version, destination=tmp)
                else:
                    result = helm.pull(chart.chart, repo_url=chart.repository, version=version, destination=tmp)
            except helm.HelmError as exc:
                raise PullError(f"{chart.key}: could not pull {chart.chart} {version} from {chart.repository}: {exc}") from None
            archives = sorted(Path(tmp).glob("*.tgz"))
            if not archives:
                raise PullError(f"{chart.key}: pull returned no archive ({result})")
            archive = archives[0]
            digest = helm.digest(str(archive))
            published = None if chart.is_oci else _published_digest(chart, version)
            if published and published.removeprefix("sha256:") != digest.removeprefix("sha256:"):
                raise PullError(f"{chart.key}: archive digest {digest} differs from the repository index's {published}")
            if known and known.get("digest") and known["digest"] != digest:
                raise PullError(f"{chart.key}: {chart.chart} {version} now has digest {digest}, but {known['digest']} "
                                "was recorded when it was first pulled; refusing a changed chart under the same version")
            dirname = f"{chart.key}-{version}"
            target = root / dirname
            unpack = Path(tmp) / "unpacked"
            helm.expand(str(unpack), str(archive))
            inner = next(p for p in unpack.iterdir() if p.is_dir())
            if _chart_version(inner) != version:
                raise PullError(f"{chart.key}: the pulled archive is version {_chart_version(inner)}, not {version}")
            if target.exists():
                shutil.rmtree(target)
            shutil.move(str(inner), str(target))
        index[entry_key] = {"chart": chart.chart, "repository": chart.repository, "version": version,
                            "digest": digest, "publishedDigest": published, "dir": dirname,
                            "pulled": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_index(root, index)
        done.append(Pulled(chart.key, version, digest, target, "pulled"))
    return done


def _published_digest(chart: Chart, version: str) -> Optional[str]:
    """The digest an HTTP repository's index.yaml publishes for this chart version (None if absent)."""
    import helm_python as helm

    try:
        idx = helm.repo_index(chart.repository)
    except helm.HelmError:
        return None
    for entry in (idx.get("entries") or {}).get(chart.chart) or []:
        if str(entry.get("version")) == version:
            return entry.get("digest") or None
    return None


def _write_index(root: Path, index: dict[str, Any]) -> None:
    tmp = root / f".{INDEX_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    tmp.replace(root / INDEX_FILE)


def status() -> list[tuple[Chart, Optional[ChartSource]]]:
    """Every pinned chart and where a plan would take it from (None: nowhere)."""
    return [(chart, locate(chart)) for chart in CHARTS.values()]
