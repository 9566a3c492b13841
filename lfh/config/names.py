"""Names the program composes from config values, in one place: the components build them with these
functions and the loader checks every one against the rule of the thing it names, so a client name that
makes one of them too long is refused with the key to change — before `pulumi up` meets an API server
that refuses the object half-way through a deployment.

Pure data: no Pulumi here.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

from ..names import fit
from .base import dns_label_problem, k8s_name_problem, label_value_problem

#: Name of the Typesense StatefulSet, Service and ServiceAccount (components/client/search.py).
SEARCH_NAME = "typesense"

#: Route prefixes of the apps' default hostnames (`api.<domain>` …).
APP_HOST_PREFIXES = {"hapihub": "api", "mycureapp": "app", "syncd": "sync"}
#: Prefix of MinIO's public route (`storage.<domain>`).
STORAGE_HOST_PREFIX = "storage"


def namespace(client: str, environment: str) -> str:
    """The client's namespace: `<client>-<environment>`."""
    return f"{client}-{environment}"


def velero_schedule(ns: str, kind: str) -> str:
    """The Velero Schedule of one backup tier (`hourly`, `daily`, `weekly`)."""
    return fit(f"{ns}-{kind}", 63)


def drill_name(ns: str) -> str:
    """Name of the restore drill's CronJob, ServiceAccount, Role and ClusterRole (and its label value):
    at most 52 characters, the CronJob limit (lfh.names.fit shortens a long one with a hash)."""
    return fit(f"restore-drill-{ns}", CRONJOB_NAME_MAX)


def drill_namespace(ns: str) -> str:
    """The throwaway namespace the restore drill restores into."""
    return fit(f"{ns}-drill", 63)


def search_instance(ns: str) -> str:
    """Typesense's `app.kubernetes.io/instance` label value."""
    return fit(f"{ns}-{SEARCH_NAME}", 63)


def app_hostname(hostname: Optional[str], prefix: str, domain: str) -> str:
    """An app's public hostname: the configured one, else `<prefix>.<domain>`."""
    return hostname or f"{prefix}.{domain}"


class ComposedName(NamedTuple):
    what: str
    value: str
    problem: Callable[[str], Optional[str]]


#: A CronJob's name is at most 52 characters: the controller appends 11 to name its Jobs (batch/v1 validation).
CRONJOB_NAME_MAX = 52


def _cronjob_name_problem(value: str) -> Optional[str]:
    return dns_label_problem(value, limit=CRONJOB_NAME_MAX)


def client_names(client: str, environment: str) -> list[ComposedName]:
    """Every Kubernetes name and label value composed from a client's name and environment, with the rule
    each must meet."""
    ns = namespace(client, environment)
    return [
        ComposedName("namespace", ns, dns_label_problem),
        ComposedName("restore-drill namespace", drill_namespace(ns), dns_label_problem),
        ComposedName("restore-drill CronJob name", drill_name(ns), _cronjob_name_problem),
        ComposedName("restore-drill label value", drill_name(ns), label_value_problem),
        ComposedName("Typesense instance label value", search_instance(ns), label_value_problem),
        *(ComposedName(f"Velero Schedule name ({kind})", velero_schedule(ns, kind), k8s_name_problem)
          for kind in ("hourly", "daily", "weekly")),
    ]


def longest_client_name(environment: str) -> int:
    """The longest client name whose composed names all pass (for the message that refuses a longer one)."""
    for length in range(63, 0, -1):
        if not any(n.problem(n.value) for n in client_names("a" * length, environment)):
            return length
    return 0

