#!/usr/bin/env python3
"""Independent scan of the recorded cloud resources with checkov (not part of `make test`).

    .venv/bin/python -m lfh plan --all -q           # writes build/plan/<stack>/resources.json
    make scan-venv                                  # checkov, pinned, in its own virtualenv (.scan-venv)
    .venv/bin/python tools/scan_cloud.py            # convert, scan, report; exit 1 below the target

For each example stack, `lfh.cloud_scan` converts the AWS/GCP resources to a Terraform plan JSON and the
azure-native resources to an ARM template (build/scan/<stack>/); checkov's `terraform_plan` and `arm`
frameworks scan them. The report lists every check with its passed/failed counts; a failing check must be
one of `lfh.cloud_scan_exceptions.NOT_APPLICABLE` (documented, with its reason, in docs/policies.md), and
the pass rate of the applicable checks must reach `--target` (default 97 %).

checkov runs in a separate virtualenv: its dependencies (boto3, networkx, …) would clash with the
project's pins. Point `--checkov` (or $CHECKOV) at its executable.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lfh.cloud_scan import convert_stack  # noqa: E402
from lfh.cloud_scan_exceptions import NOT_APPLICABLE  # noqa: E402

DEFAULT_CHECKOV = os.environ.get("CHECKOV") or str(ROOT / ".scan-venv" / "bin" / "checkov")


def run_checkov(checkov: str, framework: str, target: Path) -> list[dict]:
    """checkov's JSON report(s) for one file (terraform_plan) or directory (arm)."""
    flag = "-f" if target.is_file() else "-d"
    cmd = [checkov, flag, str(target), "--framework", framework, "-o", "json", "--compact", "--skip-download"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    if proc.returncode not in (0, 1):
        raise SystemExit(f"checkov failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    out = proc.stdout.strip()
    if not out:
        return []
    data = json.loads(out)
    return data if isinstance(data, list) else [data]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stacks", nargs="*", help="stacks to scan (default: every planned stack)")
    parser.add_argument("--plans", type=Path, default=ROOT / "build" / "plan")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "scan")
    parser.add_argument("--checkov", default=DEFAULT_CHECKOV)
    parser.add_argument("--target", type=float, default=97.0, help="minimum pass rate in percent")
    parser.add_argument("--json", type=Path, help="also write the per-check summary here")
    args = parser.parse_args(argv)

    stacks = args.stacks or sorted(p.parent.name for p in args.plans.glob("*/resources.json"))
    if not stacks:
        print(f"no plans in {args.plans}: run `python -m lfh plan --all` first", file=sys.stderr)
        return 2
    # check id -> {"name", "passed": [(stack, resource)], "failed": [...]}
    checks: dict[str, dict] = defaultdict(lambda: {"name": "", "passed": [], "failed": []})
    skipped: dict[str, list[str]] = {}
    for stack in stacks:
        written = convert_stack(args.plans / stack / "resources.json", args.out / stack)
        if written["skipped"]:
            skipped[stack] = written["skipped"]
        for framework, key in (("terraform_plan", "terraform_plan"), ("arm", "arm")):
            if key not in written:
                continue
            target = written[key] if framework == "terraform_plan" else written[key].parent
            for report in run_checkov(args.checkov, framework, target):
                results = report.get("results", {})
                for outcome in ("passed", "failed"):
                    for c in results.get(f"{outcome}_checks", []):
                        entry = checks[c["check_id"]]
                        entry["name"] = c.get("check_name") or entry["name"]
                        entry[outcome].append((stack, c.get("resource", "")))

    passed = sum(len(c["passed"]) for c in checks.values())
    failed = sum(len(c["failed"]) for c in checks.values())
    total = passed + failed
    raw = 100.0 * passed / total if total else 100.0
    # The applicable checks: every check but those documented (with their reason) as not applying here.
    excluded = sum(len(c["passed"]) + len(c["failed"]) for cid, c in checks.items() if cid in NOT_APPLICABLE)
    applicable_passed = sum(len(c["passed"]) for cid, c in checks.items() if cid not in NOT_APPLICABLE)
    applicable = total - excluded
    rate = 100.0 * applicable_passed / applicable if applicable else 100.0
    print(f"checkov over {len(stacks)} stacks: {passed} passed, {failed} failed of {total} results ({raw:.1f} %); "
          f"{len(checks)} checks applied")
    print(f"applicable checks (all but the {len([c for c in checks if c in NOT_APPLICABLE])} documented in "
          f"docs/policies.md as not applying): {applicable_passed} passed of {applicable} results ({rate:.1f} %)")
    print()
    print(f"{'check':<14} {'pass':>5} {'fail':>5}  name")
    for cid in sorted(checks, key=lambda c: (-len(checks[c]["failed"]), c)):
        c = checks[cid]
        print(f"{cid:<14} {len(c['passed']):>5} {len(c['failed']):>5}  {c['name']}")
    undocumented = sorted(cid for cid, c in checks.items() if c["failed"] and cid not in NOT_APPLICABLE)
    stale = sorted(cid for cid in NOT_APPLICABLE if cid in checks and not checks[cid]["failed"])
    print()
    for cid in sorted(cid for cid, c in checks.items() if c["failed"]):
        mark = "documented" if cid in NOT_APPLICABLE else "NOT DOCUMENTED"
        print(f"FAILED {cid} ({mark}): {checks[cid]['name']}")
        for stack, resource in sorted(set(checks[cid]["failed"])):
            print(f"    {stack}: {resource}")
    if skipped:
        print()
        for stack, types in skipped.items():
            print(f"not converted in {stack} (no mapping): {', '.join(types)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "stacks": stacks, "passed": passed, "failed": failed, "rawRate": round(raw, 2),
            "applicableRate": round(rate, 2),
            "checks": {cid: {"name": c["name"], "passed": len(c["passed"]), "failed": len(c["failed"]),
                             "failedResources": sorted({f"{s}: {r}" for s, r in c["failed"]})}
                       for cid, c in sorted(checks.items())},
        }, indent=1))
    problems = []
    if rate < args.target:
        problems.append(f"pass rate of the applicable checks {rate:.1f} % is below the target {args.target} %")
    if undocumented:
        problems.append(f"failing checks without a documented reason: {', '.join(undocumented)}")
    if stale:
        problems.append(f"documented exceptions that no longer fail (remove them): {', '.join(stale)}")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
