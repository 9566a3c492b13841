"""Helm releases rendered offline: every example release renders, failures are loud, charts come from
the cache or ../shared/upstream/charts, and the render sees what a real install would."""
from __future__ import annotations

import copy
import functools
import http.server
import json
import shutil
import threading

import pytest

from lfh import chart_cache
from lfh.charts import CHARTS, Chart
from lfh.plan import list_stacks
from lfh.plan.output import write_plan
from lfh.plan.render import cluster_objects, render_release, rendered, split_manifests
from lfh.upstream import upstream_dir

pytestmark = pytest.mark.skipif(upstream_dir() is None, reason="needs ../shared/upstream (the pinned charts)")

EXAMPLES = list_stacks()


@pytest.mark.parametrize("stack", EXAMPLES)
def test_every_release_of_every_example_stack_renders(plan_of, stack):
    plan = plan_of(stack)
    releases = rendered(plan)
    assert len(releases) == len(plan.helm_releases())
    for rel in releases:
        assert rel.error is None, rel.error
        assert rel.objects, f"{rel.name} rendered nothing"
    assert not [f for f in plan.findings if f.check == "helm-render"]
    assert plan.sections["rendered"]["data"]["failed"] == 0


def _release(plan, name):
    res, rel = next((r, h) for r, h in plan.helm_releases() if h["name"] == name)
    return res, copy.deepcopy(rel)


def test_a_broken_value_fails_the_render_loudly(plan_of):
    res, rel = _release(plan_of("platform-aws"), "velero")
    rel["values"]["configuration"] = {"backupStorageLocation": "not-a-list"}
    out = render_release(res.urn, rel, "1.33", [])
    assert out.error and "backupStorageLocation" in out.error and not out.objects


def test_a_broken_value_is_an_error_finding_in_the_plan(engine):
    import dataclasses

    from lfh.plan import analyze

    original = engine.plan("platform-aws")
    plan = dataclasses.replace(original, findings=[], sections={}, resources=copy.deepcopy(original.resources))
    rel = next(r for r in plan.resources if r.type.endswith("helm.sh/v3:Release") and r.inputs["name"] == "cert-manager")
    rel.inputs["values"]["replicaCount"] = "three"
    analyze(plan)
    errors = [f for f in plan.errors if f.check == "helm-render"]
    assert len(errors) == 1 and "cert-manager" in errors[0].message and "replicaCount" in errors[0].message


def test_a_value_of_the_wrong_shape_is_a_warning(plan_of):
    """Helm ignores a map where the chart has a scalar and says so on the Go library's stderr."""
    res, rel = _release(plan_of("platform-aws"), "longhorn")
    rel["values"]["longhornUI"] = {**rel["values"].get("longhornUI", {}), "replicas": {"count": 1}}
    out = render_release(res.urn, rel, "1.33", [])
    assert out.error is None
    assert any("longhornUI.replicas" in w and "table" in w for w in out.warnings), out.warnings


def test_a_chart_in_neither_place_is_an_error_not_a_skip(plan_of, tmp_path, monkeypatch):
    res, rel = _release(plan_of("platform-aws"), "longhorn")
    monkeypatch.setenv("LFH_CHART_CACHE", str(tmp_path / "cache"))
    rel["version"] = "0.0.1"  # neither the cache nor ../shared/upstream has this version
    out = render_release(res.urn, rel, "1.33", [])
    assert out.error and "NOT rendered" in out.error and "charts pull" in out.error


def test_kubernetes_version_and_capabilities_reach_the_templates(plan_of):
    """A chart gated on an API (velero's ServiceMonitor on monitoring.coreos.com/v1) renders it only
    when the cluster serves that API at install time."""
    res, rel = _release(plan_of("platform-aws"), "velero")
    rel["values"].setdefault("metrics", {})["serviceMonitor"] = {"enabled": True, "autodetect": True}
    kinds = lambda out: {o.kind for o in out.objects}  # noqa: E731
    assert "ServiceMonitor" not in kinds(render_release(res.urn, rel, "1.33", []))
    with_crd = render_release(res.urn, rel, "1.33", ["monitoring.coreos.com/v1"])
    assert "ServiceMonitor" in kinds(with_crd)


def test_a_release_sees_the_crds_of_the_releases_it_waits_for(plan_of):
    plan = plan_of("platform-aws")
    by_name = {r.name: r for r in rendered(plan)}
    # kube-prometheus-stack installs the monitoring CRDs; cert-manager does not wait for it.
    assert any(v.startswith("monitoring.coreos.com/v1") for v in by_name["kube-prometheus-stack"].api_versions())
    assert by_name["cert-manager"].api_versions() == [] or all(
        not v.startswith("monitoring.coreos.com") for v in by_name["cert-manager"].api_versions())


def test_helm_document_separator_rules():
    assert split_manifests("a: 1\n---# comment\nb: 2\n---\n\nc: 3\n---\n") == ["a: 1", "# comment\nb: 2", "c: 3"]


def test_rendered_objects_are_written_beside_ours_hooks_and_crds_apart(plan_of, tmp_path):
    plan = plan_of("platform-aws")
    write_plan(plan, tmp_path)
    manifests = {p.name for p in (tmp_path / "manifests").iterdir()}
    assert any(n.startswith("helm.argocd.argo-cd__argocd__deployment__") for n in manifests)
    assert any(not n.startswith("helm.") for n in manifests)  # ours are still there
    assert {p.name for p in (tmp_path / "crds").iterdir()}
    assert all("__customresourcedefinition__" in p.name for p in (tmp_path / "crds").iterdir())
    assert any("__job__" in p.name for p in (tmp_path / "hooks").iterdir())
    counts = json.loads((tmp_path / "report.json").read_text())["rendered"]
    n_objects = sum(len(r.objects) for r in rendered(plan))
    assert counts["objects"] == n_objects == sum(1 for n in manifests if n.startswith("helm."))


def test_rendered_secrets_keep_their_keys_and_hide_their_values(plan_of):
    secrets = [o for o in cluster_objects(plan_of("platform-aws")) if o.rendered and o.kind == "Secret"]
    assert secrets
    for o in secrets:
        for key in ("data", "stringData"):
            assert all(v == "[secret]" for v in (o.obj.get(key) or {}).values())


def test_rendered_objects_are_schema_checked(plan_of, engine):
    from lfh.plan.conformance import check_crd_schema, check_k8s_schema

    import dataclasses

    plan = dataclasses.replace(engine.plan("platform-aws"))
    plan.__dict__["_rendered"] = releases = copy.deepcopy(rendered(engine.plan("platform-aws")))
    dep = next(o for r in releases for o in r.objects if o.kind == "Deployment")
    dep.obj["spec"]["replicass"] = 2
    prom = next(o for r in releases for o in r.objects if o.kind == "Prometheus")
    prom.obj["spec"]["retentionn"] = "1d"
    for r in releases:
        r.key = ""  # changed in memory: no longer what the render cache holds under its key
    messages = [f.message for f in check_k8s_schema(plan) + check_crd_schema(plan) if f.severity == "error"]
    assert any("replicass" in m and "from Helm release" in m for m in messages)
    # …against the CRD the release installs (kube-prometheus-stack's), not only the upstream files
    assert any("retentionn" in m and "Prometheus/" in m and "CRD kube-prometheus-stack 88.5.3" in m for m in messages)


def test_schema_findings_of_a_render_are_kept_with_it(plan_of, engine, tmp_path, monkeypatch):
    """k8s-schema findings of a release are stored under its render key: the next plan of the same
    render reads them instead of validating again, and gets the same findings."""
    import dataclasses

    from lfh.plan import conformance

    monkeypatch.setenv("LFH_CACHE_DIR", str(tmp_path))
    plan = dataclasses.replace(engine.plan("platform-aws"))
    plan.__dict__["_rendered"] = releases = copy.deepcopy(rendered(engine.plan("platform-aws")))
    dep = next(o for r in releases for o in r.objects if o.kind == "Deployment")
    dep.obj["spec"]["replicass"] = 2
    for r in releases:
        r.key = f"test-{r.key}"
    first = conformance.check_k8s_schema(plan)
    assert any("replicass" in f.message for f in first)
    assert len(list((tmp_path / "conformance" / "k8s-schema").glob("test-*.json"))) == len(releases)
    calls = []
    monkeypatch.setattr(conformance, "_k8s_schema_findings", lambda objs, v: calls.append(objs) or [])
    assert [f.as_dict() for f in conformance.check_k8s_schema(plan)] == [f.as_dict() for f in first]
    assert all(not any(o.rendered for o in objs) for objs in calls)  # only ours were validated again


# ---------------------------------------------------------------- the chart cache


@pytest.fixture()
def local_repo(tmp_path):
    """A real Helm HTTP repository on loopback holding the pinned velero chart, packaged by Helm."""
    import helm_python as helm

    root = upstream_dir()
    repo = tmp_path / "repo"
    repo.mkdir()
    helm.package(str(root / "charts" / "velero-12.1.0"), destination=str(repo))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(repo))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    helm.repo_index_generate(str(repo), base_url=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url, repo
    server.shutdown()


def test_charts_pull_fetches_records_the_digest_and_planning_uses_the_cache(local_repo, tmp_path, monkeypatch):
    import helm_python as helm

    url, repo = local_repo
    monkeypatch.setenv("LFH_CHART_CACHE", str(tmp_path / "cache"))
    chart = Chart("velero", "velero", url, "12.1.0")
    [pulled] = chart_cache.pull([chart])
    assert pulled.status == "pulled"
    assert pulled.digest == helm.digest(str(next(repo.glob("*.tgz"))))
    index = json.loads((tmp_path / "cache" / "index.json").read_text())
    entry = index["velero@12.1.0"]
    assert entry["digest"] == pulled.digest and entry["publishedDigest"].removeprefix("sha256:") in pulled.digest
    source = chart_cache.locate(CHARTS["velero"])
    assert source is not None and source.origin == "cache" and source.digest == pulled.digest
    # Pulling again keeps the cached copy.
    assert chart_cache.pull([chart])[0].status == "cached"


def test_a_chart_that_changed_under_the_same_version_is_refused(local_repo, tmp_path, monkeypatch):
    url, _ = local_repo
    monkeypatch.setenv("LFH_CHART_CACHE", str(tmp_path / "cache"))
    chart = Chart("velero", "velero", url, "12.1.0")
    chart_cache.pull([chart])
    index_path = tmp_path / "cache" / "index.json"
    index = json.loads(index_path.read_text())
    index["velero@12.1.0"]["digest"] = "sha256:" + "0" * 64
    index_path.write_text(json.dumps(index))
    with pytest.raises(chart_cache.PullError, match="refusing a changed chart"):
        chart_cache.pull([chart], force=True)


def test_an_unreachable_repository_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LFH_CHART_CACHE", str(tmp_path / "cache"))
    with pytest.raises(chart_cache.PullError, match="could not pull"):
        chart_cache.pull([Chart("velero", "velero", "http://127.0.0.1:9", "12.1.0")])


def test_the_cache_wins_over_upstream_and_upstream_is_the_offline_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("LFH_CHART_CACHE", str(tmp_path / "cache"))
    assert chart_cache.locate(CHARTS["longhorn"]).origin == "upstream"
    target = tmp_path / "cache" / "longhorn-1.12.1"
    shutil.copytree(upstream_dir() / "charts" / "longhorn-1.12.1", target)
    (tmp_path / "cache" / "index.json").write_text(json.dumps(
        {"longhorn@1.12.1": {"dir": "longhorn-1.12.1", "digest": "sha256:abc", "version": "1.12.1"}}))
    source = chart_cache.locate(CHARTS["longhorn"])
    assert source.origin == "cache" and source.path == target


def test_charts_list_names_every_pin_and_its_source(capsys):
    from lfh.cli import main

    assert main(["charts", "list"]) == 0
    out = capsys.readouterr().out
    for key in CHARTS:
        assert key in out


def test_a_client_plan_reuses_its_platforms_cached_render(tmp_path, monkeypatch):
    """Counted, not timed: a client plan renders only its own releases; its platform's come from the
    render cache on disk (here a new Engine, as a new `python -m lfh plan <client>` process has)."""
    from lfh.plan import Engine, analyze
    from lfh.plan import render as render_module

    monkeypatch.setenv("LFH_CACHE_DIR", str(tmp_path / "cache"))
    renders: list[str] = []
    real = render_module._render_to_data
    monkeypatch.setattr(render_module, "_render_to_data",
                        lambda chart_dir, values, name, *rest: renders.append(name) or real(chart_dir, values, name, *rest))
    platform = analyze(Engine().plan("platform-local"))
    assert sorted(renders) == sorted(h["name"] for _, h in platform.helm_releases())
    renders.clear()
    client = analyze(Engine().plan("demo-staging"))
    own = sorted(h["name"] for _, h in client.helm_releases())
    assert own and sorted(renders) == own  # psmdb-operator, minio: not one platform release again
    assert all(rel.objects and rel.error is None for rel in rendered(client.platform))
    renders.clear()
    analyze(Engine().plan("demo-staging"))
    assert renders == []  # and a second plan of the client renders nothing at all


def test_a_plan_folder_holds_exactly_the_last_plan(plan_of, tmp_path):
    """Re-planning into the same folder removes what the last plan left and leaves unchanged files alone."""
    import os

    plan, out, fresh = plan_of("platform-local"), tmp_path / "out", tmp_path / "fresh"
    write_plan(plan, out)
    (out / "manifests" / "helm.gone.release__x__deployment__old.yaml").write_text("kind: Deployment\n")
    (out / "hooks" / "stale").mkdir()
    (out / "notes.txt").write_text("left by hand\n")
    kept = next(p for p in (out / "manifests").glob("helm.*.yaml"))
    os.utime(kept, (1, 1))
    write_plan(plan, out)
    assert not (out / "manifests" / "helm.gone.release__x__deployment__old.yaml").exists()
    assert not (out / "hooks" / "stale").exists() and not (out / "notes.txt").exists()
    assert kept.stat().st_mtime == 1  # same content: not rewritten
    write_plan(plan, fresh)
    listing = lambda root: sorted(str(p.relative_to(root)) for p in root.rglob("*"))  # noqa: E731
    assert listing(out) == listing(fresh)
