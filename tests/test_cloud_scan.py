"""The converter of the independent scan (lfh/cloud_scan.py): a recorded plan's cloud resources as a Terraform
plan JSON (AWS, GCP) and an ARM template (Azure), with fields mapped faithfully. checkov itself is not run here
(tools/scan_cloud.py does, from its own virtualenv)."""
from __future__ import annotations

import json

from lfh.cloud_scan import TF_TYPES, arm_template, terraform_plan


def records(plan) -> list[dict]:
    return [r.contract_dict() for r in plan.resources]


def planned(doc: dict, tf_type: str) -> list[dict]:
    return [r for r in doc["planned_values"]["root_module"]["resources"] if r["type"] == tf_type]


def test_aws_resources_become_terraform_plan_resources(plan_of):
    plan = plan_of("platform-aws")
    doc, skipped = terraform_plan(records(plan))
    assert skipped == [] and doc["format_version"]
    (cluster,) = planned(doc, "aws_eks_cluster")
    assert cluster["address"] == f"aws_eks_cluster.{cluster['name']}" and cluster["mode"] == "managed"
    values = cluster["values"]
    assert values["vpc_config"]["endpoint_public_access"] is False
    assert values["encryption_config"]["resources"] == ["secrets"]
    # Map attributes keep their keys; blocks the bridge pluralised get their Terraform name back.
    assert "lfh:platform" in values["tags"]
    sse = planned(doc, "aws_s3_bucket_server_side_encryption_configuration")[0]["values"]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    (trail,) = planned(doc, "aws_cloudtrail")
    selectors = trail["values"]["advanced_event_selector"][0]["field_selector"]
    assert any("starts_with" in f for f in selectors)
    oidc = planned(doc, "aws_iam_openid_connect_provider")[0]["values"]
    assert oidc["client_id_list"] == ["sts.amazonaws.com"]


def test_references_follow_the_recorded_dependencies(plan_of):
    doc, _ = terraform_plan(records(plan_of("platform-aws")))
    conf = {r["address"]: r for r in doc["configuration"]["root_module"]["resources"]}
    versioning = [a for a in conf if a.startswith("aws_s3_bucket_versioning.") and a.endswith("_backups_versioning")]
    refs = conf[versioning[0]]["expressions"]["bucket"]["references"]
    assert refs[1].startswith("aws_s3_bucket.") and refs[1].endswith("_backups") and refs[0] == f"{refs[1]}.id"
    nat = next(r for a, r in conf.items() if a.startswith("aws_nat_gateway."))
    assert nat["expressions"]["allocation_id"]["references"][1].startswith("aws_eip.")


def test_gcp_resources_and_a_type_without_mapping(plan_of):
    recs = records(plan_of("platform-gcp"))
    doc, skipped = terraform_plan(recs)
    (cluster,) = planned(doc, "google_container_cluster")
    assert cluster["values"]["enable_intranode_visibility"] is True
    assert cluster["values"]["node_config"]["taint"][0]["key"] == "CriticalAddonsOnly"
    assert cluster["values"]["resource_labels"]["lfh_platform"] == "gcp"
    (bucket,) = planned(doc, "google_storage_bucket")
    assert bucket["values"]["lifecycle_rule"][0]["condition"]["matches_prefix"] == ["daily/"]
    unknown = {**recs[0], "type": "gcp:made/up:Thing", "urn": "urn:x"}
    _, skipped = terraform_plan([unknown])
    assert skipped == ["gcp:made/up:Thing"]  # reported, never guessed
    assert "gcp:made/up:Thing" not in TF_TYPES


def test_azure_resources_become_an_arm_template(plan_of):
    template, skipped = arm_template(records(plan_of("platform-azure")))
    assert skipped == [] and template["$schema"].endswith("deploymentTemplate.json#")
    by_type: dict[str, list] = {}
    for r in template["resources"]:
        by_type.setdefault(r["type"], []).append(r)
    account = next(a for a in by_type["Microsoft.Storage/storageAccounts"] if a["name"].startswith("lfhazurebk"))
    assert account["apiVersion"] == "2024-01-01" and account["sku"] == {"name": "Standard_GZRS"}
    # Wire names under `properties`: the SDK's enableHttpsTrafficOnly/networkRuleSet are supportsHttpsTrafficOnly/networkAcls.
    assert account["properties"]["supportsHttpsTrafficOnly"] is True
    assert account["properties"]["networkAcls"]["defaultAction"] == "Deny"
    assert "resourceGroupName" not in account["properties"] and "accountName" not in account["properties"]
    assert isinstance(account["identity"]["userAssignedIdentities"], dict)
    (vault,) = by_type["Microsoft.KeyVault/vaults"]
    assert vault["properties"]["publicNetworkAccess"] == "Disabled"
    (aks,) = by_type["Microsoft.ContainerService/managedClusters"]
    assert aks["properties"]["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert json.dumps(template)  # serialisable as written to build/scan/<stack>/arm/template.json
