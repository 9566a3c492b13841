"""Image names as GKE Binary Authorization matches them, and the allowlist the platform's and its clients'
images need.

Binary Authorization's allowlist entries are `registry/path/to/image` patterns with a trailing `*` (which does
not match `/`) or `**` (which matches subdirectories) after the registry part (AdmissionWhitelistPattern,
Binary Authorization API reference). The patterns below are one per image owner (`quay.io/jetstack/**`), not
whole registries: a pod can pull from the owners we use, not from anyone on docker.io.

The program cannot render charts, so this list is data; `python -m lfh plan` (binary-authorization) proves
every pod image of a GKE platform and of its clients matches it, and a test that it holds nothing the example
stacks do not use.
"""
from __future__ import annotations

#: Images written without a registry are Docker Hub's (`percona/x` is `docker.io/percona/x`).
DOCKER_HUB = "docker.io"

#: One pattern per image owner of the platform's add-ons and the clients' apps and data services.
ALLOWED_IMAGE_PATTERNS: tuple[str, ...] = (
    "docker.io/envoyproxy/**",
    "docker.io/grafana/**",
    "docker.io/longhornio/**",
    "docker.io/percona/**",
    "docker.io/rclone/**",
    "docker.io/typesense/**",
    "docker.io/velero/**",
    "ecr-public.aws.com/docker/**",
    "ghcr.io/external-secrets/**",
    "ghcr.io/jkroepke/**",
    "ghcr.io/mycurelabs/**",
    "quay.io/argoproj/**",
    "quay.io/jetstack/**",
    "quay.io/kiwigrid/**",
    "quay.io/minio/**",
    "quay.io/prometheus-operator/**",
    "quay.io/prometheus/**",
    "registry.k8s.io/kube-state-metrics/**",
    "registry.k8s.io/kubectl*",
)


def _has_registry(name: str) -> bool:
    first = name.split("/", 1)[0]
    return "/" in name and ("." in first or ":" in first or first == "localhost")


def normalized(image: str) -> str:
    """The full name with its registry: `percona/x:1` -> `docker.io/percona/x:1`, `redis` -> `docker.io/library/redis`."""
    if _has_registry(image):
        return image
    return f"{DOCKER_HUB}/{image}" if "/" in image else f"{DOCKER_HUB}/library/{image}"


def written_forms(pattern: str) -> list[str]:
    """A Docker Hub pattern also as images are written without the registry (`docker.io/percona/**` ->
    `percona/**`): the allowlist carries both, whichever form the admission check compares."""
    if pattern.startswith(f"{DOCKER_HUB}/"):
        return [pattern, pattern[len(DOCKER_HUB) + 1:]]
    return [pattern]


def matches(image: str, pattern: str) -> bool:
    """Whether ``image`` (as written, or normalized) matches an allowlist ``pattern``."""
    for name in {image, normalized(image)}:
        if pattern.endswith("**"):
            if name.startswith(pattern[:-2]):
                return True
        elif pattern.endswith("*"):
            prefix = pattern[:-1]
            if name.startswith(prefix) and "/" not in name[len(prefix):]:
                return True
        elif name == pattern or name.split("@")[0].rsplit(":", 1)[0] == pattern:
            return True
    return False


def owner_pattern(image: str) -> str:
    """The pattern that admits ``image``'s owner: `registry/owner/**`, or `registry/image*` for a top-level one."""
    name = normalized(image).split("@")[0]
    registry, _, path = name.partition("/")
    parts = path.split("/")
    if len(parts) == 1:
        return f"{registry}/{parts[0].split(':')[0]}*"
    return f"{registry}/{parts[0]}/**"
