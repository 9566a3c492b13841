"""Image inventory: images.txt lists every image of every pod (ours and rendered, hooks included) and the
images operators start for the custom resources we create; unpinned images are errors."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lfh.cli import main
from lfh.plan import images
from lfh.plan.model import Plan, Resource


def _obj(kind: str, name: str, spec: dict, api: str = "apps/v1", ns: str = "acme") -> Resource:
    obj = {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec}
    return Resource(urn=f"urn:pulumi:s::lfh::kubernetes:x:{kind}::{name}", type=f"kubernetes:x:{kind}", name=name,
                    parent="", provider="urn:p::id", dependencies=[], inputs=obj)


def _deploy(name: str, *containers: dict, init: tuple = ()) -> Resource:
    return _obj("Deployment", name, {"template": {"spec": {"containers": list(containers), "initContainers": list(init)}}})


def _plan(*resources: Resource) -> Plan:
    return Plan(stack="acme-prod", role="client", resources=list(resources), outputs={}, secret_outputs=[])


def test_every_container_kind_and_cronjob_templates_are_listed_sorted_and_unique():
    cron = _obj("CronJob", "drill", {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "registry.k8s.io/kubectl:v1.33.4"}]}}}}}, api="batch/v1")
    pod = _obj("Pod", "debug", {"containers": [{"name": "a", "image": "b/app:1"}],
                                "ephemeralContainers": [{"name": "dbg", "image": "busybox:1.37"}]}, api="v1")
    plan = _plan(_deploy("app", {"name": "a", "image": "b/app:1"}, init=({"name": "i", "image": "b/init:2"},)), cron, pod)
    assert images.images_txt(plan) == "b/app:1\nb/init:2\nbusybox:1.37\nregistry.k8s.io/kubectl:v1.33.4\n"
    assert images.findings(plan) == []


@pytest.mark.parametrize("ref, pinned", [("nginx", False), ("nginx:latest", False), ("reg:5000/nginx", False),
                                         ("reg:5000/nginx:1.27", True), ("nginx@sha256:" + "a" * 64, True),
                                         ("nginx:alpine", True)])
def test_pinned_means_a_tag_other_than_latest_or_a_digest(ref, pinned):
    assert images.is_pinned(ref) is pinned


def test_an_unpinned_image_is_an_error_naming_the_object_and_the_fix():
    plan = _plan(_deploy("web", {"name": "nginx", "image": "nginx:latest"}))
    (finding,) = images.findings(plan)
    assert finding.check == "image-pinned" and finding.severity == "error"
    assert "Deployment/web (namespace acme): container nginx" in finding.message
    assert "'nginx:latest' is not pinned" in finding.message and "version tag" in finding.message


def test_images_a_controller_is_configured_to_start_are_listed():
    manager = {"name": "longhorn-manager", "image": "longhornio/longhorn-manager:v1.12.1",
               "command": ["longhorn-manager", "daemon", "--engine-image", "longhornio/longhorn-engine:v1.12.1",
                           "--service-account", "longhorn"],
               "args": ["--acme-http01-solver-image=quay.io/jetstack/cert-manager-acmesolver:v1.21.1"],
               "env": [{"name": "CSI_ATTACHER_IMAGE", "value": "longhornio/csi-attacher:v4.12.0"},
                       {"name": "POD_IMAGE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]}
    assert images.inventory(_plan(_deploy("m", manager))).images == [
        "longhornio/csi-attacher:v4.12.0", "longhornio/longhorn-engine:v1.12.1", "longhornio/longhorn-manager:v1.12.1",
        "quay.io/jetstack/cert-manager-acmesolver:v1.21.1"]


def test_percona_cr_adds_mongod_init_backup_agent_and_enabled_log_collector():
    operator = _deploy("psmdb-operator", {"name": "op", "image": "percona/percona-server-mongodb-operator:1.22.0"})
    cr = _obj("PerconaServerMongoDB", "mongodb", {
        "crVersion": "1.21.0", "image": "percona/percona-server-mongodb:7.0.28-15",
        "backup": {"enabled": True, "image": "percona/percona-backup-mongodb:2.12.0"},
        "logcollector": {"enabled": True}, "pmm": {"enabled": False}}, api="psmdb.percona.com/v1")
    found = images.inventory(_plan(operator, cr)).images
    # mongo-init: the operator's repository at the CR's crVersion (it differs from the operator's own).
    assert "percona/percona-server-mongodb-operator:1.21.0" in found
    assert {"percona/percona-server-mongodb:7.0.28-15", "percona/percona-backup-mongodb:2.12.0",
            images.PSMDB_DEFAULTS["logcollector"]} <= set(found)
    assert images.PSMDB_DEFAULTS["pmm"] not in found
    cr.inputs["spec"]["backup"]["enabled"] = False
    cr.inputs["spec"]["initImage"] = "percona/percona-server-mongodb-operator:1.22.0"
    found = images.inventory(_plan(operator, cr)).images
    assert "percona/percona-backup-mongodb:2.12.0" not in found
    assert "percona/percona-server-mongodb-operator:1.21.0" not in found


def test_prometheus_and_alertmanager_crs_add_server_and_config_reloader_from_the_operator_flags():
    operator = _deploy("prometheus-operator", {"name": "op", "image": "quay.io/prometheus-operator/prometheus-operator:v0.93.1",
                                               "args": ["--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
                                                        "--alertmanager-default-base-image=mirror.local/alertmanager"]})
    prom = _obj("Prometheus", "p", {"image": "quay.io/prometheus/prometheus:v3.14.0"}, api="monitoring.coreos.com/v1")
    am = _obj("Alertmanager", "a", {"version": "v0.34.0"}, api="monitoring.coreos.com/v1")
    found = images.inventory(_plan(operator, prom, am)).images
    assert {"quay.io/prometheus/prometheus:v3.14.0", "mirror.local/alertmanager:v0.34.0",
            "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1"} <= set(found)
    # Without the operator in the plan, the config-reloader's image is unknown: a loud finding, not a gap.
    lonely = _plan(prom)
    assert any("config-reloader" in f.message for f in images.findings(lonely))


def test_envoy_proxy_uses_its_image_or_envoy_gateways_default_for_the_pinned_version():
    proxy = _obj("EnvoyProxy", "shared", {"provider": {"type": "Kubernetes"}}, api="gateway.envoyproxy.io/v1alpha1")
    assert images.ENVOY_DEFAULTS["envoy"] in images.inventory(_plan(proxy)).images
    proxy.inputs["spec"]["provider"]["kubernetes"] = {"envoyDeployment": {"container": {"image": "mirror/envoy:v1.39.0"}}}
    found = images.inventory(_plan(proxy)).images
    assert "mirror/envoy:v1.39.0" in found and images.ENVOY_DEFAULTS["envoy"] not in found
    # The shutdown manager's built-in default is `gateway-dev:latest`: without the chart's config it is an error.
    assert any("gateway-dev:latest" in f.message for f in images.findings(_plan(proxy)))


def _expected_from_rendered_files(out: Path) -> set[str]:
    """Every `image:` string of every rendered object and hook on disk (read independently of lfh)."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "image" and isinstance(v, str):
                    found.add(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for folder in ("manifests", "hooks"):
        for path in (out / folder).glob("helm.*.yaml"):
            walk(yaml.safe_load(path.read_text()))
    return found


def test_platform_aws_images_txt_lists_every_image_the_rendered_charts_use(tmp_path, capsys):
    out = tmp_path / "platform-aws"
    assert main(["plan", "platform-aws", "--out", str(out), "-q"]) == 0
    listed = (out / "images.txt").read_text().splitlines()
    assert listed == sorted(set(listed)) and all(images.is_pinned(i) and ":latest" not in i for i in listed)
    expected = _expected_from_rendered_files(out)
    assert len(expected) > 20, "the rendered charts use images"
    assert expected <= set(listed), f"missing from images.txt: {sorted(expected - set(listed))}"
    # …and the images operators start that no rendered pod names (Envoy, Longhorn's engine, the reloader).
    assert {images.ENVOY_DEFAULTS["envoy"], "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1"} <= set(listed)
    assert any("longhorn-engine" in i for i in listed) and any("csi-provisioner" in i for i in listed)
    capsys.readouterr()
    assert main(["images", "platform-aws"]) == 0
    assert capsys.readouterr().out.splitlines() == listed


def test_images_all_is_the_union_of_every_stack(capsys):
    assert main(["images", "--all"]) == 0
    union = capsys.readouterr().out.splitlines()
    assert main(["images", "demo-prod"]) == 0
    client = capsys.readouterr().out.splitlines()
    assert main(["images", "platform-aws"]) == 0
    platform = capsys.readouterr().out.splitlines()
    assert set(client) | set(platform) <= set(union) and union == sorted(set(union))
    # A client lists its own operator's pods: mongod, the backup agent and mongo-init.
    assert any(i.startswith("percona/percona-server-mongodb:") for i in client)
    assert any(i.startswith("percona/percona-backup-mongodb:") for i in client)
    assert main(["images"]) == 2
