"""Run the real `__main__.py` of a stack under Pulumi's mock runtime and record every registration.

The engine never re-implements the program: it sets the stack's config (secure values replaced by
placeholders), runs `__main__.py`, and records what the program registers — urn, type, name,
parent, provider, dependencies, property dependencies, options and inputs — as the Pulumi engine
would receive them. A client stack's StackReference answers with the outputs of planning its
platform stack.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import runpy
import sys
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource, rpc, settings as pulumi_settings
from pulumi.runtime.config import set_all_config

from .. import PROJECT_ROOT, STACKS_DIR
from ..config.loader import dumps_placeholder_config, load_stack_file
from . import fakes
from ..config.loader import ConfigError
from .model import SECRET, Finding, Plan, Resource

PROJECT = "lfh"
ORGANIZATION = "organization"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
SECRET_TYPE = "kubernetes:core/v1:Secret"


class PlanError(Exception):
    """The program could not be planned (duplicate URN, missing fake, program exception)."""


def clean(value: Any) -> Any:
    """Inputs as the output contract shows them: secrets masked, whole numbers as integers."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET
        if value.get(rpc._special_sig_key) == rpc._special_resource_sig:
            return value.get("urn", "")
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.startswith("[secret:"):
        return SECRET
    if isinstance(value, pulumi.Resource):
        return getattr(value, "_lfh_urn", "") or repr(value)
    return value


def _secret_keys_kept(type_: str, inputs: Any) -> Any:
    """A Kubernetes Secret's `data`/`stringData` with each key kept and each value masked.

    The Kubernetes SDK marks the whole of `data` and `stringData` secret (components/sdk.py does the
    same), so `clean` alone would show `stringData: "[secret]"` — not a valid Secret, and it hides
    which keys a pod can read. The keys are the program's own (e.g. `admin-password`); under mocks
    the secret's value is known, so its keys are kept and every value shown as "[secret]"."""
    if type_ != SECRET_TYPE or not isinstance(inputs, dict):
        return inputs
    out = dict(inputs)
    for field in ("data", "stringData"):
        value = out.get(field)
        if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            value = value.get("value")
        if isinstance(value, dict) and rpc._special_sig_key not in value:
            out[field] = {str(k): SECRET for k in value}
    return out


def _unwrap_secrets(value: Any) -> Any:
    """Inputs as a provider would see them (secrets unwrapped), for computing fake state."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _unwrap_secrets(value.get("value"))
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value


class _Mocks(pulumi_mocks.Mocks):
    def __init__(self, stack_references: dict[str, dict[str, Any]]):
        self.stack_references = stack_references

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        inputs = _unwrap_secrets(args.inputs)
        if args.typ == STACK_REFERENCE_TYPE:
            ref_name = inputs.get("name") or args.name
            answer = self.stack_references.get(ref_name)
            if answer is None:
                raise PlanError(f"StackReference {ref_name!r}: no planned stack answers it")
            return f"{ref_name}", {"name": ref_name, **answer}
        state = dict(inputs)
        state.update(fakes.computed_state(args.typ, args.name, inputs))
        rid = args.resource_id or state.get("id") or fakes.resource_id(args.typ, args.name, inputs)
        state.pop("id", None)
        return str(rid), state

    def call(self, args: pulumi_mocks.MockCallArgs):
        return fakes.invoke_result(args.token, _unwrap_secrets(args.args))


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, keeping every registration request (the stock one keeps only state)."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.records: list[Resource] = []
        self.seen: dict[str, int] = {}
        self.duplicates: list[str] = []
        #: URN -> the explicit `depends_on` URNs of its registration (see `_recording_prepare`).
        self.explicit_depends_on: dict[str, list[str]] = {}

    def _record(self, request: Any, urn: str, custom: bool) -> Resource:
        if urn in self.seen:
            self.duplicates.append(urn)
        self.seen[urn] = self.seen.get(urn, 0) + 1
        inputs = rpc.deserialize_properties(request.object if hasattr(request, "object") else request.properties)
        timeouts = getattr(request, "customTimeouts", None)
        record = Resource(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                provider=request.provider,
                # Sorted: the SDK collects dependencies in a set, so their order changes run to run.
                dependencies=sorted(getattr(request, "dependencies", [])),
                inputs=clean(_secret_keys_kept(request.type, inputs)),
                custom=custom,
                property_dependencies={
                    k: sorted(v.urns) for k, v in sorted(getattr(request, "propertyDependencies", {}).items())
                },
                protect=bool(getattr(request, "protect", False)),
                retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                delete_before_replace=bool(getattr(request, "deleteBeforeReplace", False)),
                ignore_changes=list(getattr(request, "ignoreChanges", [])),
                custom_timeouts={k: getattr(timeouts, k) for k in ("create", "update", "delete", "read")
                                 if timeouts is not None and getattr(timeouts, k, "")},
                aliases=[_alias(a) for a in getattr(request, "aliases", [])],
                depends_on=self.explicit_depends_on.pop(urn, []),
        )
        self.records.append(record)
        return record

    def RegisterResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        record = self._record(request, urn, bool(request.custom))
        response = super().RegisterResource(request)
        reg = self.resources.get(urn)
        if reg is not None:
            record.state = clean(reg.state)
        return response

    def ReadResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        self._record(request, urn, True)
        return super().ReadResource(request)


def _alias(alias: Any) -> dict[str, Any]:
    """One `aliases` entry of a registration: `{"urn": …}`, or the spec's fields that are set
    (`name`, `type`, `stack`, `project`, `parentUrn`, `noParent`) — the mock monitor supports alias
    specs, so the SDK sends specs rather than computed URNs."""
    if alias.WhichOneof("alias") == "urn":
        return {"urn": alias.urn}
    spec = alias.spec  # an empty field is the SDK's "unchanged" (same name, type, parent …)
    out: dict[str, Any] = {k: getattr(spec, k) for k in ("name", "type", "stack", "project") if getattr(spec, k)}
    if spec.parentUrn:
        out["parentUrn"] = spec.parentUrn
    if spec.noParent:
        out["noParent"] = True
    return out


def _recording_prepare(monitor: "_RecordingMonitor", prepare: Any) -> Any:
    """`pulumi.runtime.resource.prepare_resource`, also noting each registration's explicit
    `depends_on`. The request the monitor receives has only `dependencies` (explicit ∪ every
    resource an input refers to, pulumi/runtime/resource.py `prepare_resource`), so the explicit
    ones are resolved here the way the SDK resolves them and handed over by URN."""

    async def prepare_resource(res, ty, custom, remote, props, opts, typ=None):  # noqa: ANN001
        ops = await prepare(res, ty, custom, remote, props, opts, typ)
        if opts is not None and opts.depends_on is not None:
            urns = await pulumi_resource._resolve_depends_on_urns(opts._depends_on_list(), from_resource=res)
            if urns:
                urn = monitor.make_urn(ops.parent_urn or "", ty, res._name)
                monitor.explicit_depends_on[urn] = sorted(urns)
        return ops

    return prepare_resource


async def _resolve(value: Any) -> tuple[Any, bool]:
    out = pulumi.Output.from_input(value)
    resolved = await out.future(with_unknowns=True)
    secret = await out.is_secret()
    return resolved, bool(secret)


def stack_file(stack: str, stacks_dir: Path = STACKS_DIR) -> Path:
    return Path(stacks_dir) / f"Pulumi.{stack}.yaml"


def list_stacks(stacks_dir: Path = STACKS_DIR) -> list[str]:
    """Every stack in `stacks/`, platform stacks first (clients reference them)."""
    names = [p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in Path(stacks_dir).glob("Pulumi.*.yaml")]
    return sorted(names, key=lambda n: (not n.startswith("platform-"), n))


class Engine:
    """Plans stacks; caches plans so a client's platform is planned once."""

    def __init__(self, stacks_dir: Path = STACKS_DIR, program: Path = PROJECT_ROOT / "__main__.py",
                 cache_dir: Optional[Path] = None):
        self.stacks_dir = Path(stacks_dir)
        self.program = Path(program)
        self._plans: dict[str, Plan] = {}
        #: Where recorded platform plans are cached on disk (None: no disk cache; see cache.py).
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None

    def plan(self, stack: str) -> Plan:
        if stack in self._plans:
            return self._plans[stack]
        if self.cache_dir is not None and stack.startswith("platform-"):
            from . import cache

            cached = cache.load(self.cache_dir, stack, stack_file(stack, self.stacks_dir), self.program)
            if cached is not None:
                self._plans[stack] = cached
                return cached
        cfg, config, secret_paths = load_stack_file(stack_file(stack, self.stacks_dir), stack)
        references: dict[str, dict[str, Any]] = {}
        if cfg.client is not None:
            ref = cfg.client.platform_stack
            platform_stack = ref.rsplit("/", 1)[-1]
            if not stack_file(platform_stack, self.stacks_dir).exists():
                raise ConfigError([
                    f"lfh:client.platformStack: {ref!r} names stack {platform_stack!r}, which has no file "
                    f"{stack_file(platform_stack, self.stacks_dir)}"
                ])
            try:
                platform = self.plan(platform_stack)
            except ConfigError as exc:
                # The operator edits the platform's file, not this one: say which file it is.
                where = stack_file(platform_stack, self.stacks_dir)
                raise ConfigError([f"{where} (platform stack {platform_stack!r}, which lfh:client.platformStack of "
                                   f"{stack} names): {line}" for line in exc.lines]) from None
            references[ref] = {"outputs": platform.outputs, "secretOutputNames": platform.secret_outputs}
        secret_keys = sorted({p.split(".", 1)[0] for p in secret_paths})
        plan = run_program(self.program, stack, dumps_placeholder_config(config), secret_keys, references)
        plan.config = cfg
        section = cfg.platform if cfg.platform is not None else cfg.client
        plan.chart_versions = dict(getattr(section, "chart_versions", None) or {})
        if cfg.platform is not None:
            plan.kubernetes_version = cfg.platform.kubernetes_version
        else:
            plan.kubernetes_version = str(platform.outputs.get("kubernetesVersion", plan.kubernetes_version))
            plan.platform = platform
        if self.cache_dir is not None and plan.role == "platform":
            from . import cache

            cache.save(self.cache_dir, plan, stack_file(stack, self.stacks_dir), self.program)
        self._plans[stack] = plan
        return plan


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs the SDK's monitor calls in the event loop's own thread.

    The SDK hands every RPC to a thread pool so a real gRPC call does not block the loop; the mock
    monitor is plain Python, so a thread per call buys nothing but GIL hand-offs (a fifth of a
    client plan's wall time). Its one await (serialising the mock's answer) is finished on the
    spot by `_complete_now`, so a call never re-enters the loop."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001  (handed to the awaiting coroutine, as a pool would)
            future.set_exception(exc)
        return future


def _complete_now(awaitable: Any) -> Any:
    """`pulumi.runtime.mocks._sync_await` for the inline executor: the mock monitor awaits only the
    serialisation of a mock answer, which is plain data and never waits — finish it here. (The
    stock version pumps the running loop, which from inline calls nests a frame per pending
    registration until the recursion limit.)"""
    try:
        awaitable.send(None)
    except StopIteration as done:
        return done.value
    awaitable.close()
    raise PlanError("a mock answer contained something to wait for (fakes must return plain data)")


def _no_stack_trace() -> Any:
    """An empty source stack trace: the CLI shows it next to diagnostics, nothing here records it,
    and walking every frame of every registration is a tenth of a client plan's time."""
    return pulumi_resource.source_pb2.StackTrace()


def run_program(
    program: Path,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    stack_references: Optional[dict[str, dict[str, Any]]] = None,
) -> Plan:
    """Run one Pulumi program under mocks and return what it registered."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_InlineExecutor())
    asyncio.set_event_loop(loop)
    pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
    monitor = _RecordingMonitor(_Mocks(stack_references or {}))
    log = _ProgramLog()
    pulumi_mocks.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor, organization=ORGANIZATION,
        logger=log,
    )
    set_all_config(config, secret_keys)
    root = str(program.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    # For this run only (restored below): no source stack traces, mock answers finished inline,
    # explicit depends_on noted.
    saved = (pulumi_resource._get_stack_trace, pulumi_mocks._sync_await,  # type: ignore[attr-defined]
             pulumi_resource.prepare_resource)
    pulumi_resource._get_stack_trace = _no_stack_trace  # type: ignore[attr-defined]
    pulumi_mocks._sync_await = _complete_now  # type: ignore[attr-defined]
    pulumi_resource.prepare_resource = _recording_prepare(monitor, saved[2])
    try:
        # set_mocks made (and closed) a root stack; run the program in a fresh one exactly as the
        # language host does, so `pulumi.run(async_main)` programs work too.
        pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
        roots: list[Any] = []

        def program_main() -> None:
            roots.append(pulumi_settings.get_root_resource())  # the Stack lives in this task's context
            runpy.run_path(str(program), run_name="__main__")

        try:
            loop.run_until_complete(pulumi.runtime.stack.run_in_stack(program_main))
        except fakes.MissingFake as exc:
            raise PlanError(str(exc)) from None
        except pulumi.RunError as exc:
            # The program refused its input (a RunError names the config key): bad config, exit 2.
            raise ConfigError([line.strip() for line in str(exc).splitlines() if line.strip()]) from None
        stack_resource = roots[0] if roots else None
        outputs: dict[str, Any] = {}
        secret_outputs: list[str] = []
        for name, value in dict(getattr(stack_resource, "outputs", {}) or {}).items():
            resolved, secret = loop.run_until_complete(_resolve(value))
            outputs[name] = resolved
            if secret:
                secret_outputs.append(name)
    finally:
        # A failed program leaves registrations in flight; cancel them so nothing leaks into the next plan.
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
        asyncio.set_event_loop(None)
        (pulumi_resource._get_stack_trace, pulumi_mocks._sync_await,  # type: ignore[attr-defined]
         pulumi_resource.prepare_resource) = saved
        loop.close()
    if monitor.duplicates:
        raise PlanError("duplicate URNs (a real `pulumi up` would reject them): " + ", ".join(sorted(set(monitor.duplicates))))
    role = "platform" if stack.startswith("platform-") else "client"
    plan = Plan(stack=stack, role=role, resources=monitor.records, outputs=outputs, secret_outputs=sorted(secret_outputs))
    # What the program told the operator (pulumi.log.warn/error) is a finding, not a lost stderr line.
    for severity, message in log.messages:
        plan.findings.append(Finding(f"program-{severity}", severity, f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}", message))
    return plan


class _ProgramLog(logging.Logger):
    """Collects the program's warnings and errors (the mock engine's Log calls)."""

    def __init__(self) -> None:
        super().__init__("lfh.plan.program")
        self.messages: list[tuple[str, str]] = []

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """The SDK's per-registration chatter: dropped before `logging` builds a record for each."""

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.messages.append(("warning", str(msg)))

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.messages.append(("error", str(msg)))
