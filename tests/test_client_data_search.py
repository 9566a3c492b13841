"""Typesense: our own StatefulSet, 3 Raft nodes in production, headless peering, /health readiness."""
from __future__ import annotations

import pytest

from test_client_data_harness import kind, plan_scenario


def sts(plan):
    (s,) = [s for s in kind(plan, "StatefulSet") if s.inputs["metadata"]["name"] == "typesense"]
    return s


def test_search_off_by_default():
    plan = plan_scenario("aws", "production")
    assert not [s for s in kind(plan, "StatefulSet") if s.inputs["metadata"]["name"] == "typesense"]
    assert "typesense" not in {w["name"] for w in plan.outputs["workloads"]}


@pytest.mark.parametrize("environment,replicas", [("production", 3), ("staging", 1)])
def test_nodes_and_peering(environment, replicas):
    plan = plan_scenario("aws", environment, search={"enabled": True})
    spec = sts(plan).inputs["spec"]
    assert spec["replicas"] == replicas
    assert spec["serviceName"] == "typesense-peers"
    (headless,) = [s for s in kind(plan, "Service") if s.inputs["metadata"]["name"] == "typesense-peers"]
    assert headless.inputs["spec"]["clusterIP"] == "None"
    assert headless.inputs["spec"]["publishNotReadyAddresses"] is True
    assert {p["port"] for p in headless.inputs["spec"]["ports"]} == {8107, 8108}
    (cm,) = [c for c in kind(plan, "ConfigMap") if c.inputs["metadata"]["name"] == "typesense-nodes"]
    nodes = cm.inputs["data"]["nodes"].split(",")
    assert len(nodes) == replicas
    for i, node in enumerate(nodes):
        host, peering, api = node.rsplit(":", 2)
        assert host.startswith(f"typesense-{i}.typesense-peers") and len(host) <= 64
        assert (peering, api) == ("8107", "8108")
    container = spec["template"]["spec"]["containers"][0]
    assert "--nodes=/etc/typesense/nodes" in container["args"]


def test_long_namespaces_fall_back_to_short_peer_names():
    plan = plan_scenario("aws", "production", name="a-very-long-client-name-for-ty", search={"enabled": True})
    (cm,) = [c for c in kind(plan, "ConfigMap") if c.inputs["metadata"]["name"] == "typesense-nodes"]
    assert all(len(n.rsplit(":", 2)[0]) <= 64 for n in cm.inputs["data"]["nodes"].split(","))


def test_probes_security_storage_and_key():
    plan = plan_scenario("gcp", "production", search={"enabled": True})
    s = sts(plan)
    assert s.protect and s.retain_on_delete
    spec = s.inputs["spec"]
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"].startswith("typesense/typesense:") and not c["image"].endswith(":latest")
    assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8108}
    # Liveness must not be /health: it answers 503 during Raft catch-up.
    assert "tcpSocket" in c["livenessProbe"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    (vct,) = spec["volumeClaimTemplates"]
    assert vct["spec"]["storageClassName"] == "longhorn-encrypted"
    key = [e for e in c["env"] if e["name"] == "TYPESENSE_API_KEY"][0]
    assert key["valueFrom"]["secretKeyRef"]["name"] == "typesense-api-key"
    (es,) = [e for e in kind(plan, "ExternalSecret") if e.inputs["metadata"]["name"] == "typesense-api-key"]
    assert es.inputs["spec"]["data"][0]["remoteRef"]["key"] == "lfh-gcp__acme__production__typesense-api-key"
    (pdb,) = [p for p in kind(plan, "PodDisruptionBudget") if p.inputs["metadata"]["name"] == "typesense"]
    assert pdb.inputs["spec"]["maxUnavailable"] == 1


def test_workload_and_wiring():
    plan = plan_scenario("aws", "production", search={"enabled": True})
    (w,) = [w for w in plan.outputs["workloads"] if w["name"] == "typesense"]
    assert w["ports"] == [8108] and 8107 in w["peer_ports"] and "self" in w["ingress_from"] and w["tier"] == "data"
    sel = sts(plan).inputs["spec"]["selector"]["matchLabels"]
    assert w["pod_labels"] == sel
    (wiring,) = [x for x in plan.outputs["wiring"] if "TYPESENSE_URL" in x["env"]]
    assert wiring["env"]["TYPESENSE_URL"] == "http://typesense.acme-production.svc.cluster.local:8108"
    assert wiring["egressTo"] == ["typesense"]


def test_typesense_runs_on_the_db_pool():
    spec = sts(plan_scenario("gcp", "production", search={"enabled": True})).inputs["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"lfh.io/pool": "db"}
    assert [t["value"] for t in spec["tolerations"]] == ["db"]
