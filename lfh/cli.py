"""`python -m lfh …`: plan stacks offline, document the config, onboard clients, preview cost, list images.

Exit codes: 0 clean, 1 findings of severity error, 2 bad config or usage (a message, no traceback).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import PROJECT_ROOT, STACKS_DIR
from .config import ConfigError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _cmd_plan(args: argparse.Namespace) -> int:
    from .plan import Engine, PlanError, analyze, list_stacks, render_summary, write_plan

    stacks_dir = Path(args.stacks_dir)
    if args.all == bool(args.stack):
        raise UsageError("plan: give one STACK or --all")
    stacks = list_stacks(stacks_dir) if args.all else [args.stack]
    if not stacks:
        raise UsageError(f"plan: no stack files in {stacks_dir}")
    if args.out and args.all:
        raise UsageError("plan: --out names one stack's folder; with --all use --out-root")
    from .plan import cache

    engine = Engine(stacks_dir=stacks_dir, cache_dir=cache.engine_cache_dir())
    worst = EXIT_OK
    planned: list = []
    for stack in stacks:
        if not (stacks_dir / f"Pulumi.{stack}.yaml").exists():
            raise UsageError(f"plan: no stack file {stacks_dir / f'Pulumi.{stack}.yaml'}")
        try:
            plan = analyze(engine.plan(stack))
        except PlanError as exc:
            print(f"error: {stack}: {exc}", file=sys.stderr)
            worst = max(worst, EXIT_FINDINGS)
            continue
        out = Path(args.out) if args.out else Path(args.out_root) / stack
        write_plan(plan, out)
        planned.append((plan, out))
        if not args.quiet:
            print(render_summary(plan, out))
            print()
        else:
            counts = {s: sum(1 for f in plan.findings if f.severity == s) for s in ("error", "warning")}
            print(f"{stack}: {len(plan.resources)} resources, {counts['error']} errors, {counts['warning']} warnings -> {out}/")
        if plan.errors:
            worst = max(worst, EXIT_FINDINGS)
    if args.all:
        worst = max(worst, _cross_stack(planned))
    return worst


def _cross_stack(planned: list) -> int:
    """Checks no single stack can make (secret paths of two client stacks overlapping)."""
    from .plan import write_plan
    from .policy_runner import cross_stack_findings

    outs = {id(plan): out for plan, out in planned}
    found = cross_stack_findings([plan for plan, _ in planned])
    for plan, finding in found:
        plan.findings.append(finding)
        print(f"{finding.severity.upper()} {plan.stack}: {finding.check}: {finding.message}", file=sys.stderr)
    for plan in {id(p): p for p, _ in found}.values():
        write_plan(plan, outs[id(plan)])
    return EXIT_FINDINGS if any(f.severity == "error" for _, f in found) else EXIT_OK


def _print_or_check(text: str, args: argparse.Namespace, command: str) -> int:
    """Print a generated document, or with --check FILE fail (exit 1) when FILE differs from it."""
    if args.check:
        path = Path(args.check)
        if not path.exists() or path.read_text() != text:
            print(f"{path} is stale: regenerate with `python -m lfh {command} > {path}`", file=sys.stderr)
            return EXIT_FINDINGS
        return EXIT_OK
    sys.stdout.write(text)
    return EXIT_OK


def _cmd_config_docs(args: argparse.Namespace) -> int:
    from .config.docs import render

    return _print_or_check(render(), args, "config-docs")


def _cmd_policy_docs(args: argparse.Namespace) -> int:
    from .policy_runner import render_docs

    return _print_or_check(render_docs(), args, "policy-docs")


def _cmd_new_client(args: argparse.Namespace) -> int:
    from .onboarding import NewClient, OnboardingError, new_client, parse_settings

    options = {"object_storage": args.object_storage, "search": args.search, "syncd": args.syncd}
    try:
        req = NewClient(args.name, args.env, args.platform, domain=args.domain, org=args.org, options=options,
                        settings=parse_settings(args.set, args.image_tag, secret_env=args.secret_env,
                                                hostnames=args.extra_hostname, satellites=args.satellite))
        result = new_client(req, Path(args.stacks_dir), dry_run=args.dry_run)
    except OnboardingError as exc:
        raise UsageError(f"new-client: {exc}") from None
    if args.dry_run:
        sys.stdout.write(result.text)
        return EXIT_OK
    print(f"wrote {result.path} (stack {result.stack}); next steps:")
    for step in result.next_steps:
        print(f"  {step}")
    return EXIT_OK


def _cmd_cost(args: argparse.Namespace) -> int:
    import json

    from . import cost
    from .plan import Engine, PlanError

    stacks_dir = Path(args.stacks_dir)
    if not (stacks_dir / f"Pulumi.{args.stack}.yaml").exists():
        raise UsageError(f"cost: no stack file {stacks_dir / f'Pulumi.{args.stack}.yaml'}")
    try:
        from .plan import cache

        plan = Engine(stacks_dir=stacks_dir, cache_dir=cache.engine_cache_dir()).plan(args.stack)
    except PlanError as exc:
        print(f"error: {args.stack}: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    section = cost.report(plan, plan.platform, bucket_gib=args.bucket_gib)
    placement = section.pop("_placement")
    if args.json:
        print(json.dumps(section["data"], indent=2, default=str))
    else:
        print(f"{args.stack}: {section['title']}")
        for line in section["text"]:
            print(f"  {line}")
        for u in placement.unplaced + placement.transient_unplaced:
            if not (u.group.platform and plan.platform is not None):
                print(f"  ERROR scheduling: {u.group.owner}: {u.missing} pod(s) cannot be scheduled — {u.reason}")
    return EXIT_OK


def _cmd_images(args: argparse.Namespace) -> int:
    """Print the images of one stack, or the union over all stacks (sorted, one per line)."""
    from .plan import Engine, PlanError, cache, list_stacks
    from .plan import images
    from .plan.render import rendered

    stacks_dir = Path(args.stacks_dir)
    if args.all == bool(args.stack):
        raise UsageError("images: give one STACK or --all")
    stacks = list_stacks(stacks_dir) if args.all else [args.stack]
    engine = Engine(stacks_dir=stacks_dir, cache_dir=cache.engine_cache_dir())
    worst, plans = EXIT_OK, []
    for stack in stacks:
        if not (stacks_dir / f"Pulumi.{stack}.yaml").exists():
            raise UsageError(f"images: no stack file {stacks_dir / f'Pulumi.{stack}.yaml'}")
        try:
            plan = engine.plan(stack)
        except PlanError as exc:
            print(f"error: {stack}: {exc}", file=sys.stderr)
            worst = EXIT_FINDINGS
            continue
        # The list is only complete if every release rendered; an unpinned image is an error too.
        problems = [f"Helm release {r.namespace}/{r.name} did not render ({r.error}): its images are missing"
                    for r in rendered(plan) if r.error]
        problems += [f.message for f in images.findings(plan)]
        for message in problems:
            print(f"error: {stack}: {message}", file=sys.stderr)
        worst = max(worst, EXIT_FINDINGS if problems else EXIT_OK)
        plans.append(plan)
    sys.stdout.write("".join(f"{image}\n" for image in images.union(plans)))
    return worst


def _cmd_charts(args: argparse.Namespace) -> int:
    from . import chart_cache
    from .charts import CHARTS

    if args.action == "pull":
        unknown = [k for k in args.keys if k not in CHARTS]
        if unknown:
            raise UsageError(f"charts pull: no pinned chart {', '.join(unknown)} (known: {', '.join(sorted(CHARTS))})")
        charts = [CHARTS[k] for k in args.keys] if args.keys else None
        try:
            pulled = chart_cache.pull(charts, force=args.force)
        except chart_cache.PullError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FINDINGS
        for p in pulled:
            print(f"{p.status:7s} {p.key} {p.version} {p.digest} -> {p.path}")
        return EXIT_OK
    missing = 0
    for chart, source in chart_cache.status():
        if source is None:
            missing += 1
            print(f"MISSING {chart.key} {chart.version}: {chart_cache.where_to_get(chart)}")
        else:
            print(f"{source.origin:9s}{chart.key} {chart.version} {source.digest or ''} {source.path}")
    return EXIT_FINDINGS if missing else EXIT_OK


def _cmd_docs(args: argparse.Namespace) -> int:
    from .docgen import check, write

    if args.check:
        stale = check()
        for path in stale:
            print(f"{path} is stale: regenerate with `python -m lfh docs`", file=sys.stderr)
        return EXIT_FINDINGS if stale else EXIT_OK
    for path in write():
        print(f"wrote {path}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lfh", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plan", help="plan a stack offline: record, check, write build/plan/<stack>/")
    p.add_argument("stack", nargs="?", help="stack name, e.g. demo-staging")
    p.add_argument("--all", action="store_true", help="plan every stack in the stacks folder")
    p.add_argument("--out", help="output folder (default build/plan/<stack>)")
    p.add_argument("--out-root", default=str(PROJECT_ROOT / "build" / "plan"), help="parent folder of per-stack outputs")
    p.add_argument("--stacks-dir", default=str(STACKS_DIR), help="folder of Pulumi.<stack>.yaml files")
    p.add_argument("-q", "--quiet", action="store_true", help="one line per stack")
    p.set_defaults(func=_cmd_plan)

    d = sub.add_parser("config-docs", help="print the configuration reference (Markdown)")
    d.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from the generated reference")
    d.set_defaults(func=_cmd_config_docs)

    pd = sub.add_parser("policy-docs", help="print the policy pack reference (Markdown)")
    pd.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from the generated reference")
    pd.set_defaults(func=_cmd_policy_docs)

    n = sub.add_parser("new-client", help="write stacks/Pulumi.<name>-<env>.yaml for a new client (validated)")
    n.add_argument("name", help="client name (DNS label), e.g. acme")
    n.add_argument("--env", required=True, help="production (prod), staging or development (dev)")
    n.add_argument("--platform", required=True, help="platform stack to deploy onto, e.g. platform-aws")
    n.add_argument("--domain", help="client DNS domain (default: <name>[-<env>].<platform domain>)")
    n.add_argument("--org", default="organization", help="Pulumi organisation of the platform stack")
    n.add_argument("--stacks-dir", default=str(STACKS_DIR), help="folder of Pulumi.<stack>.yaml files")
    n.add_argument("--object-storage", choices=["cloud", "minio"], help="object storage mode (default per platform)")
    n.add_argument("--search", action=argparse.BooleanOptionalAction, default=None, help="Typesense search on/off")
    n.add_argument("--syncd", action=argparse.BooleanOptionalAction, default=None, help="Syncd real-time sync on/off")
    n.add_argument("--image-tag", action="append", metavar="APP=TAG", help="pinned image tag of an app, e.g. mycureapp=10.0.0 (repeatable)")
    n.add_argument("--set", action="append", metavar="KEY=VALUE", help="any lfh:client key by its path, e.g. apps.hapihub.replicas=3 (repeatable)")
    n.add_argument("--secret-env", action="append", metavar="APP.VAR=SECRET[/PROPERTY]",
                   help="env var of an app from the secret manager, e.g. hapihub.SMTP_PASSWORD=smtp/password (repeatable)")
    n.add_argument("--extra-hostname", action="append", metavar="APP=HOST",
                   help="another public hostname of an app, e.g. mycureapp=portal.acme-health.com (repeatable)")
    n.add_argument("--satellite", action="append", metavar="NAME=IMAGE:TAG",
                   help="an extra web service, e.g. myaccount=ghcr.io/mycurelabs/myaccount:1.0.1 (repeatable; more keys with --set)")
    n.add_argument("--dry-run", action="store_true", help="print the file instead of writing it")
    n.set_defaults(func=_cmd_new_client)

    c = sub.add_parser("cost", help="sizing (requests/limits/storage), capacity check and monthly cost of a stack")
    c.add_argument("stack", help="stack name, e.g. demo-prod")
    c.add_argument("--stacks-dir", default=str(STACKS_DIR), help="folder of Pulumi.<stack>.yaml files")
    c.add_argument("--bucket-gib", type=float, default=100.0, help="assumed GiB stored per bucket (default 100)")
    c.add_argument("--json", action="store_true", help="print the report.json `cost` data instead of tables")
    c.set_defaults(func=_cmd_cost)

    im = sub.add_parser("images", help="the container images a stack runs (images.txt), or with --all the union over all stacks")
    im.add_argument("stack", nargs="?", help="stack name, e.g. platform-aws")
    im.add_argument("--all", action="store_true", help="every stack in the stacks folder (for air-gapped mirroring and scanning)")
    im.add_argument("--stacks-dir", default=str(STACKS_DIR), help="folder of Pulumi.<stack>.yaml files")
    im.set_defaults(func=_cmd_images)

    ch = sub.add_parser("charts", help="the pinned Helm charts: where a plan renders them from, or pull them into the cache")
    ch.add_argument("action", choices=["pull", "list"], help="pull: fetch into the chart cache (digest recorded); list: show sources")
    ch.add_argument("keys", nargs="*", help="chart keys of lfh/charts.py (default: all)")
    ch.add_argument("--force", action="store_true", help="pull again even when the cache holds the version")
    ch.set_defaults(func=_cmd_charts)

    g = sub.add_parser("docs", help="regenerate the generated docs (configuration, policies, hipaa)")
    g.add_argument("--check", action="store_true", help="exit 1 if any generated doc is stale")
    g.set_defaults(func=_cmd_docs)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    try:
        return args.func(args)
    except ConfigError as exc:
        for line in exc.lines:
            print(f"config error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return EXIT_USAGE
