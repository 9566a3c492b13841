"""docs/before-first-up.md matches what the code assumes: the secrets each example platform reads, the
pinned add-on versions, the features it names."""
from __future__ import annotations

import re

import pytest

from lfh import PROJECT_ROOT

DOC = (PROJECT_ROOT / "docs" / "before-first-up.md").read_text()
SECTIONS = {"platform-aws": "## AWS (EKS)", "platform-azure": "## Azure (AKS)", "platform-gcp": "## GCP (GKE)"}


def section(stack: str) -> str:
    start = DOC.index(SECTIONS[stack])
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end > 0 else None]


def documented_secrets(stack: str) -> dict[str, tuple[set[str], bool]]:
    """`secret` -> (properties, conditional) from the section's table."""
    out = {}
    for name, props, why in re.findall(r"^\| `([^`]+)` \| (.+?) \| (.+?) \|$", section(stack), re.M):
        out[name] = ({p.strip("` ") for p in props.split(",")}, "only with" in why)
    return out


@pytest.mark.parametrize("stack", sorted(SECTIONS))
def test_the_secret_tables_list_what_each_platform_reads(plan_of, stack):
    plan = plan_of(stack)
    platform = plan.config.platform.name
    read: dict[str, set[str]] = {}
    for _, es in plan.manifests():
        if es["kind"] == "ExternalSecret" and es["spec"]["secretStoreRef"]["kind"] == "ClusterSecretStore":
            for d in es["spec"]["data"]:
                read.setdefault(d["remoteRef"]["key"], set()).add(d["remoteRef"]["property"])
    documented = {name.replace("<platform>", platform): v for name, v in documented_secrets(stack).items()}
    assert read, stack
    for key, props in read.items():
        assert key in documented, f"{stack} reads {key}, which docs/before-first-up.md does not list"
        assert props == documented[key][0], key
    for key, (_, conditional) in documented.items():
        assert key in read or conditional, f"docs/before-first-up.md lists {key}, which {stack} does not read"


def test_pinned_versions_and_features_in_the_checklist_are_the_codes(plan_of):
    from components.cluster.aws_autoscaler import IMAGE_TAGS
    from lfh.config.cluster import AwsCluster

    aws = section("platform-aws")
    assert AwsCluster.model_fields["metrics_server_version"].default in aws
    assert f"cluster-autoscaler:{IMAGE_TAGS['1.33']}" in aws
    assert "EncryptionAtHost" in section("platform-azure")
    # The node image the GKE pools really run.
    pools = [r.inputs["nodeConfig"]["imageType"] for r in plan_of("platform-gcp").of_type("gcp:container/nodePool:NodePool")]
    assert set(pools) == {"UBUNTU_CONTAINERD"} and "UBUNTU_CONTAINERD" in section("platform-gcp")
