"""Plan check `binary-authorization`: every pod image of a GKE platform and of its clients is on the allowlist;
the allowlist (lfh/image_patterns.py) holds what the example stacks' images need and nothing more."""
from __future__ import annotations

import dataclasses

import pytest

from lfh import STACKS_DIR
from lfh.image_patterns import ALLOWED_IMAGE_PATTERNS, matches, normalized, owner_pattern, written_forms
from lfh.plan import binary_authorization, list_stacks
from lfh.plan.pods import pod_templates
from tests.graph import errors_after, mutable_copy


def images(plan) -> set[str]:
    return {str(c.get("image")) for t in pod_templates(plan) for _, c in t.containers() if c.get("image")}


def test_platform_pods_all_on_the_allowlist(plan_of):
    plan = plan_of("platform-gcp")
    assert [f for f in plan.findings if f.check == "binary-authorization"] == []
    assert images(plan), "the check saw no pod"


def test_an_unlisted_owner_is_an_error_naming_the_pattern(engine):
    plan = mutable_copy(engine, "platform-gcp")
    cloud = plan.outputs["cloud"]
    patterns = [p for p in cloud["binaryAuthorization"]["imagePatterns"] if p != "quay.io/jetstack/**"]
    plan.outputs = {**plan.outputs, "cloud": {**cloud, "binaryAuthorization": {**cloud["binaryAuthorization"], "imagePatterns": patterns}}}
    errors = errors_after(binary_authorization, plan)
    assert errors and all("quay.io/jetstack/cert-manager" in e and "`quay.io/jetstack/**`" in e for e in errors)
    assert any("binaryAuthorization.extraImagePatterns" in e for e in errors)


def test_client_images_checked_against_the_platforms_allowlist(engine):
    plan = mutable_copy(engine, "acme-prod")
    assert errors_after(binary_authorization, plan) == []  # an AWS platform: no allowlist applies
    gke = {"kind": "gcp", "binaryAuthorization": {"enforced": True, "imagePatterns": [
        p for p in ALLOWED_IMAGE_PATTERNS if p != "ghcr.io/mycurelabs/**"]}}
    plan.platform = dataclasses.replace(plan.platform, outputs={**plan.platform.outputs, "cloud": gke})
    errors = errors_after(binary_authorization, plan)
    assert errors and all("ghcr.io/mycurelabs/" in e for e in errors)


def test_allowlist_holds_only_what_the_example_stacks_run(plan_of):
    used = set().union(*(images(plan_of(s)) for s in list_stacks(STACKS_DIR)))
    unused = [p for p in ALLOWED_IMAGE_PATTERNS if not any(matches(i, p) for i in used)]
    assert unused == []
    # Owner-level patterns, never a whole registry.
    assert all(len(p.rstrip("*").rstrip("/").split("/")) >= 2 for p in ALLOWED_IMAGE_PATTERNS)


@pytest.mark.parametrize("image,pattern,ok", [
    ("quay.io/jetstack/cert-manager-controller:v1.21.1", "quay.io/jetstack/**", True),
    ("percona/percona-server-mongodb:7.0.28-15", "docker.io/percona/**", True),
    ("registry.k8s.io/kubectl:v1.33.4", "registry.k8s.io/kubectl*", True),
    ("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0", "registry.k8s.io/kubectl*", False),
    ("quay.io/jetstacks/evil:1", "quay.io/jetstack/**", False),
])
def test_pattern_semantics(image, pattern, ok):
    """`*` does not cross `/`, `**` does (Binary Authorization AdmissionWhitelistPattern)."""
    assert matches(image, pattern) is ok


def test_helpers():
    assert normalized("redis:7") == "docker.io/library/redis:7"
    assert owner_pattern("typesense/typesense:30.1") == "docker.io/typesense/**"
    assert written_forms("docker.io/percona/**") == ["docker.io/percona/**", "percona/**"]
