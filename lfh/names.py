"""The one way a name is made to fit a provider's limit: a readable prefix and a short hash.

Cloud and Kubernetes names are composed from platform, client and environment names, so a long client
name can push them past a provider's limit (IAM roles 64, Key Vaults 24, GCP service accounts 30,
CronJobs 52 …) and the apply fails half-way. Every composed name goes through `fit`: the full name
when it fits, else its first characters and a hash of the whole (so two long names that share a prefix
stay different, and the same input always gives the same name). `lfh/plan/cloud_names.py` checks the
results against each provider's rules.
"""
from __future__ import annotations

import hashlib
import re

#: Hex characters of the hash that replaces the tail of a name that does not fit (2^32 values: a
#: collision between two names of one platform is not a practical concern).
HASH_LENGTH = 8


def digest(text: str, length: int = HASH_LENGTH) -> str:
    """A short, stable hash of ``text`` (lower-case hex)."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(name: str, limit: int, *, sep: str = "-", alnum: bool = False, lower: bool = False) -> str:
    """``name`` if it fits ``limit`` characters, else ``<prefix><sep><hash>`` of exactly ``limit``.

    ``alnum`` drops every character but letters and digits first (Azure storage accounts, encryption
    scopes; the separator is then dropped too); ``lower`` lower-cases it. The prefix never ends with
    the separator, so no `--` appears where the provider forbids it.
    """
    if lower:
        name = name.lower()
    if alnum:
        name, sep = re.sub(r"[^A-Za-z0-9]", "", name), ""
    if len(name) <= limit:
        return name
    tail = sep + digest(name)
    head = name[: max(limit - len(tail), 1)]
    if sep:
        head = head.rstrip(sep)
    return f"{head}{tail}"[:limit]


def join(*parts: str, limit: int, sep: str = "-", **kw: object) -> str:
    """`fit` of the non-empty ``parts`` joined by ``sep``."""
    return fit(sep.join(p for p in parts if p), limit, sep=sep, **kw)  # type: ignore[arg-type]


__all__ = ["HASH_LENGTH", "digest", "fit", "join"]
