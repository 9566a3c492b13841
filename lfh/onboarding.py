"""`python -m lfh new-client`: write a validated client stack file and say what to do next.

The file is minimal on purpose — the required keys plus what the operator chose that differs from
the environment's defaults — so it keeps validating as the config model grows new keys with
defaults. It is validated with the same loader `pulumi up` uses (``parse_stack_config``) before a
byte is written, and an existing file is never overwritten.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, SecretStr

from .config.base import SECRET_PLACEHOLDER_PREFIX, models_in
from .config.client import CLIENT_NAME_MAX, ClientConfig
from .config.loader import ENV_SHORT, ConfigError, load_stack_file, parse_stack_config

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENVIRONMENTS = ("production", "staging", "development")
#: Organisation part of `platformStack` (`<org>/lfh/<stack>`); the plan engine answers for it too.
DEFAULT_ORG = "organization"
#: Marker ciphertext for required secrets: `pulumi config set --secret` replaces it with the real one.
PLACEHOLDER_CIPHERTEXT = "v1:placeholder-set-with-pulumi-config-set-secret"


class OnboardingError(Exception):
    """A refused request (bad name, existing file, unknown platform); one line, no traceback."""


@dataclass
class NewClient:
    """What the operator asked for. ``options`` are extra `lfh:client` keys (camelCase paths)."""

    name: str
    environment: str
    platform: str
    domain: Optional[str] = None
    org: str = DEFAULT_ORG
    options: dict[str, Any] = field(default_factory=dict)
    #: `--set path=value` pairs: any `lfh:client` key by its camelCase path (value parsed as YAML).
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    stack: str
    path: Path
    text: str
    next_steps: list[str]


# ---------------------------------------------------------------- option → config key mapping


#: Command-line options and the `lfh:client` key each sets, applied only when the model has it.
#: (The client model grows in parallel; an option the model does not know is refused clearly.)
OPTION_KEYS = {
    "object_storage": "objectStorage.mode",
    "search": "search.enabled",
    "syncd": "apps.syncd.enabled",
}


def _has_path(model: type[BaseModel], path: str) -> bool:
    """Whether ``path`` (camelCase, dotted) names a key of the model; a map's keys are any name
    (`apps.satellites.<name>.image`, `apps.hapihub.secretEnv.<VAR>`)."""
    return _annotation_at(model, path) is not _MISSING


_MISSING = object()


def _wants_string(path: str) -> bool:
    """Whether the key at ``path`` holds a string (then a `--set` value is taken as written: `true`,
    `10.20` and `587` stay strings instead of becoming YAML booleans and numbers)."""
    import typing

    annotation = _annotation_at(ClientConfig, path.removeprefix("lfh:client."))
    while typing.get_origin(annotation) in (typing.Annotated, typing.Union):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 or typing.get_origin(annotation) is typing.Annotated else None
    return annotation is str


def _annotation_at(model: type[BaseModel], path: str) -> Any:
    annotation: Any = model
    for part in path.split("."):
        inner = _map_value(annotation)
        if inner is not None:
            annotation = inner
            continue
        members = models_in(annotation)
        info = None
        for m in members:
            info = next((i for n, i in m.model_fields.items() if part in (n, i.alias)), None)
            if info is not None:
                break
        if info is None:
            return _MISSING
        annotation = info.annotation
    return annotation


def _map_value(annotation: Any) -> Any:
    """The value type when ``annotation`` is a map (also inside Optional/Annotated), else None."""
    import typing

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _map_value(typing.get_args(annotation)[0])
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is typing.Union:
        found = [v for a in typing.get_args(annotation) if (v := _map_value(a)) is not None]
        return found[0] if found else None
    return None


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


# ---------------------------------------------------------------- checks


def normalise_environment(env: str) -> tuple[str, str]:
    """(`prod` or `production` as given for the stack name, the full environment value)."""
    full = ENV_SHORT.get(env, env)
    if full not in ENVIRONMENTS:
        raise OnboardingError(
            f"--env {env!r}: allowed: production (or prod), staging, development (or dev)")
    return env, full


def check_name(name: str, env_in_name: str, env_full: str) -> None:
    if not DNS_LABEL.match(name or ""):
        raise OnboardingError(
            f"client name {name!r}: must be a DNS-1123 label — lower-case letters, digits and '-', "
            "starting and ending with a letter or digit")
    limit = CLIENT_NAME_MAX
    if len(name) > limit:
        raise OnboardingError(
            f"client name {name!r} is {len(name)} characters; at most {limit} are allowed "
            "(it becomes part of cloud resource, namespace and secret names)")
    from .config import names

    # The loader's own rule (lfh/config/names.py): every name the program composes from it must be valid.
    longest = names.longest_client_name(env_full)
    for composed in [names.ComposedName("stack name", f"{name}-{env_in_name}", lambda v: None if len(v) <= 63 else
                                        f"is {len(v)} characters long; at most 63 are allowed"),
                     *names.client_names(name, env_full)]:
        problem = composed.problem(composed.value)
        if problem:
            raise OnboardingError(f"client name {name!r}: the {composed.what} {composed.value!r} {problem} "
                                  f"(use a client name of at most {longest} characters)")


def platform_stack_name(platform: str) -> str:
    """`platform-aws` from `platform-aws`, `aws` or `org/lfh/platform-aws`."""
    stack = platform.rsplit("/", 1)[-1]
    return stack if stack.startswith("platform-") else f"platform-{stack}"


# ---------------------------------------------------------------- the file


def _required_secrets(model: type[BaseModel], prefix: str) -> list[str]:
    """Paths of required secret fields (each needs a `secure:` value before the file validates)."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}.{info.alias or name}"
        if info.annotation is SecretStr and info.is_required():
            out.append(key)
        elif info.is_required():
            for m in models_in(info.annotation)[:1]:
                out += _required_secrets(m, key)
    return out


def build_config(req: NewClient, env_full: str, platform_domain: str) -> tuple[dict[str, Any], list[str]]:
    """The `lfh:client` mapping (minimal) and the secret key paths the operator must set."""
    domain = req.domain
    if domain is None:
        # Under the platform's domain: `acme.<platform>` for production, `acme-staging.<platform>` otherwise.
        short = {"production": "", "staging": "-staging", "development": "-dev"}[env_full]
        domain = f"{req.name}{short}.{platform_domain}"
    data: dict[str, Any] = {
        "name": req.name,
        "environment": env_full,
        "platformStack": f"{req.org}/lfh/{platform_stack_name(req.platform)}",
        "domain": domain,
    }
    for option, value in req.options.items():
        if value is None:
            continue
        path = OPTION_KEYS.get(option, option)
        if not _has_path(ClientConfig, path):
            raise OnboardingError(
                f"--{option.replace('_', '-')}: this version's client config has no key lfh:client.{path}")
        _set_path(data, path, value)
    for path, value in req.settings.items():
        path = path.removeprefix("lfh:client.")
        if not _has_path(ClientConfig, path):
            raise OnboardingError(f"--set {path}=…: this version's client config has no key lfh:client.{path}")
        _set_path(data, path, value)
    secrets = _required_secrets(ClientConfig, "lfh:client")
    for path in secrets:
        _set_path(data, path.removeprefix("lfh:client."), {"secure": PLACEHOLDER_CIPHERTEXT})
    return data, secrets


def _minimise(data: dict[str, Any], stack: str, env_full: str) -> dict[str, Any]:
    """Drop every optional key (leaf by leaf) whose value equals what the model fills in anyway."""
    import copy

    from .config.loader import _mark_secure, substitute_secrets

    def validated(d: dict[str, Any]) -> Any:
        cfg, paths = substitute_secrets(_mark_secure({"lfh:client": d}))
        return parse_stack_config(stack, cfg, paths).client

    full = validated(data)

    def leaves(node: dict[str, Any], prefix: tuple = ()) -> list[tuple]:
        out = []
        for k, v in node.items():
            if isinstance(v, dict) and v and set(v) != {"secure"}:
                out += leaves(v, prefix + (k,))
            else:
                out.append(prefix + (k,))
        return out

    out = copy.deepcopy(data)
    for path in leaves(data):
        if path[0] in ("name", "environment", "platformStack", "domain"):
            continue
        trial = copy.deepcopy(out)
        node = trial
        for part in path[:-1]:
            node = node[part]
        if isinstance(node.get(path[-1]), dict) and set(node[path[-1]]) == {"secure"}:
            continue
        del node[path[-1]]
        # Remove mappings the deletion left empty.
        for depth in range(len(path) - 1, 0, -1):
            parent = trial
            for part in path[:depth - 1]:
                parent = parent[part]
            if parent[path[depth - 1]] == {}:
                del parent[path[depth - 1]]
        try:
            if validated(trial) == full:
                out = trial
        except ConfigError:
            pass
    return out


def render(req: NewClient, stack: str, data: dict[str, Any], secrets: list[str]) -> str:
    import json
    import shlex

    import yaml

    cmd = ["python -m lfh new-client", req.name, "--env", req.environment, "--platform", platform_stack_name(req.platform)]
    if req.domain:
        cmd += ["--domain", req.domain]
    for option, value in req.options.items():
        if value is not None:
            flag = "--" + option.replace("_", "-")
            cmd += [flag if value is True else f"--no-{flag[2:]}"] if isinstance(value, bool) else [flag, str(value)]
    for key, value in req.settings.items():
        # Lists and maps as the YAML (JSON) `--set` reads back; strings as they are.
        shown = value if isinstance(value, str) else json.dumps(value)
        cmd += ["--set", shlex.quote(f"{key}={shown}")]
    lines = [
        f"# Client stack {stack}: generated by `{' '.join(cmd)}`.",
        "# Only what differs from the defaults for this environment is written; every key and its default",
        "# is listed in docs/configuration.md. Check with `python -m lfh plan " + stack + "`.",
    ]
    if secrets:
        lines.append("# Placeholders marked `secure:` must be replaced: see the `pulumi config set --secret` steps.")
    body = yaml.safe_dump({"config": {"lfh:client": data}}, sort_keys=False, default_flow_style=False)
    return "\n".join(lines) + "\n" + body


def next_steps(stack: str, platform: str, secrets: list[str], org: str, secret_path: str = "") -> list[str]:
    steps = [
        (f"python -m lfh plan {stack}", "offline: every resource, conformance, policy, cost"),
        (f"pulumi stack init {org}/lfh/{stack}", "once (`pulumi stack select` afterwards)"),
    ]
    for path in secrets:
        steps.append((f"pulumi config set --stack {stack} --secret --path '{path}' <value>", "replaces the placeholder"))
    if not secrets:
        steps.append(("", "no secrets to set: `pulumi up` generates them and writes them to the cloud secret manager "
                          f"under {secret_path or '<platform>/<client>/<env>'}/"))
    steps += [
        (f"pulumi preview --stack {stack} --policy-pack policy", "what a real cloud would get, with the policy pack"),
        (f"pulumi up --stack {stack}", f"once {platform} is up"),
    ]
    width = max(len(cmd) for cmd, _ in steps)
    return [f"{cmd.ljust(width)}  # {why}" if cmd else f"# {why}" for cmd, why in steps]


def new_client(req: NewClient, stacks_dir: Path, dry_run: bool = False) -> Result:
    """Validate, render and write `Pulumi.<name>-<env>.yaml`; refuse to overwrite."""
    env_in_name, env_full = normalise_environment(req.environment)
    check_name(req.name, env_in_name, env_full)
    stack = f"{req.name}-{env_in_name}"
    stacks_dir = Path(stacks_dir)
    platform = platform_stack_name(req.platform)
    platform_file = stacks_dir / f"Pulumi.{platform}.yaml"
    if not platform_file.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in stacks_dir.glob("Pulumi.platform-*.yaml"))
        raise OnboardingError(f"--platform {req.platform!r}: no stack file {platform_file}; "
                              f"platform stacks here: {', '.join(known) or 'none'}")
    platform_cfg = load_stack_file(platform_file, platform)[0].platform
    if platform_cfg is None:
        raise OnboardingError(f"--platform {req.platform!r}: {platform_file} is not a platform stack (no lfh:platform)")
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if path.exists():
        raise OnboardingError(f"{path} exists; refusing to overwrite (edit it, or remove it first)")
    others = [p.name for p in stacks_dir.glob(f"Pulumi.{req.name}-*.yaml")
              if ENV_SHORT.get(p.name[len(f"Pulumi.{req.name}-"):-5], p.name[len(f"Pulumi.{req.name}-"):-5]) == env_full]
    if others:
        raise OnboardingError(f"client {req.name!r} already has a {env_full} stack ({others[0]}); one stack per client+environment")

    data, secrets = build_config(req, env_full, platform_cfg.domain)
    try:
        data = _minimise(data, stack, env_full)
    except ConfigError as exc:
        # Something only the operator can know (e.g. a pinned image tag without a default).
        raise OnboardingError(
            "the client config would not validate: " + "; ".join(exc.lines)
            + " — pass the value with `--set <key>=<value>` (or `--image-tag <app>=<tag>`)") from None
    text = render(req, stack, data, secrets)
    # Validate exactly what will be written, with the loader `pulumi up` uses.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / path.name
        probe.write_text(text)
        load_stack_file(probe, stack)
    if not dry_run:
        stacks_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "x") as fh:  # "x": never overwrite, even if the file appeared meanwhile
            fh.write(text)
    secret_path = f"{platform.removeprefix('platform-')}/{req.name}/{env_full}"
    return Result(stack, path, text, next_steps(stack, platform, secrets, req.org, secret_path))


__all__ = ["NewClient", "OnboardingError", "Result", "new_client", "SECRET_PLACEHOLDER_PREFIX"]


def parse_settings(pairs: list[str], image_tags: list[str], *, secret_env: Optional[list[str]] = None,
                   hostnames: Optional[list[str]] = None, satellites: Optional[list[str]] = None) -> dict[str, Any]:
    """`--set a.b=value` (value parsed as YAML: numbers, booleans, lists, `{…}` maps), `--image-tag app=tag`,
    and the shorthands `--secret-env APP.VAR=NAME[/PROPERTY]`, `--extra-hostname APP=HOST`,
    `--satellite NAME=IMAGE:TAG`, each turned into the `--set` paths they stand for."""
    import yaml

    out: dict[str, Any] = {}
    for pair in secret_env or []:
        target, sep, ref = pair.partition("=")
        app, dot, var = target.rpartition(".")
        if not sep or not dot or not app or not var or not ref:
            raise OnboardingError(f"--secret-env {pair!r}: expected <app>.<VAR>=<secret>[/<property>], "
                                  "e.g. hapihub.SMTP_PASSWORD=smtp/password")
        out[f"{_app_path(app)}.secretEnv.{var}"] = ref
    for pair in hostnames or []:
        app, sep, host = pair.partition("=")
        if not sep or not app or not host:
            raise OnboardingError(f"--extra-hostname {pair!r}: expected <app>=<hostname>, e.g. mycureapp=portal.acme-health.com")
        out.setdefault(f"{_app_path(app)}.extraHostnames", []).append(host)
    for pair in satellites or []:
        name, sep, ref = pair.partition("=")
        image, colon, tag = ref.rpartition(":")
        if not sep or not name or not colon or not image or not tag or "/" in tag:
            raise OnboardingError(f"--satellite {pair!r}: expected <name>=<image>:<tag>, e.g. myaccount=ghcr.io/mycurelabs/myaccount:1.0.1")
        out[f"apps.satellites.{name}.image"] = image
        out[f"apps.satellites.{name}.tag"] = tag
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise OnboardingError(f"--set {pair!r}: expected <key>=<value>, e.g. apps.syncd.replicas=3")
        try:
            out[key] = raw if raw == "" or _wants_string(key) else yaml.safe_load(raw)
        except yaml.YAMLError:
            out[key] = raw
    for pair in image_tags or []:
        app, sep, tag = pair.partition("=")
        if not sep or not app or not tag:
            raise OnboardingError(f"--image-tag {pair!r}: expected <app>=<tag>, e.g. mycureapp=10.0.0")
        out[f"apps.{app}.tag"] = tag  # a string even when it looks like a number (`10.0`)
    return out


def _app_path(app: str) -> str:
    """`apps.<app>` for the three apps, `apps.satellites.<name>` for a satellite (`satellites.<name>` also accepted)."""
    if app in ("hapihub", "mycureapp", "syncd"):
        return f"apps.{app}"
    return f"apps.{app}" if app.startswith("satellites.") else f"apps.satellites.{app}"
