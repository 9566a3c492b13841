"""Checks of the independent scan (tools/scan_cloud.py) that fail and do not apply, each with its reason."""
from __future__ import annotations

#: checkov check id -> why it does not apply to this platform (rendered into docs/policies.md).
NOT_APPLICABLE: dict[str, str] = {}
