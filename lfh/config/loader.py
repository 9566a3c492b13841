"""Loading and validating a stack's config, completely, before any resource exists.

Two entry points, one model:
- ``load_stack_file`` reads `stacks/Pulumi.<stack>.yaml` offline (the plan engine, tests, CI). It
  sees `secure:` entries, so it can also insist that secret fields are set with `--secret`.
- ``from_pulumi`` reads the same keys through ``pulumi.Config`` inside a real `pulumi up`
  (the only place in the program that touches ``pulumi.Config``).
"""
from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from .base import SECRET_PLACEHOLDER_PREFIX, Environment, models_in

if TYPE_CHECKING:
    from .client import ClientConfig
    from .platform import PlatformConfig

#: Config namespaces a stack file may use besides `lfh:`; they configure Pulumi providers.
PROVIDER_NAMESPACES = ("aws", "azure-native", "gcp", "kubernetes", "random", "pulumi")


class _Models(Mapping[str, Any]):
    """`lfh:<key>` -> the model it holds, each imported on first use: a client stack never builds the
    platform model and its ~40 cluster and add-on sections (a tenth of a client plan's imports)."""

    _where = {"platform": ("platform", "PlatformConfig"), "client": ("client", "ClientConfig")}

    def __getitem__(self, key: str) -> Any:
        module, name = self._where[key]
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def by_model_name(self, name: Optional[str]) -> Any:
        """The root model called ``name`` (a ValidationError's title), or None."""
        return next((self[k] for k, (_, cls) in self._where.items() if cls == name), None)


#: The `lfh:` keys and the model each one holds.
LFH_KEYS = _Models()

CLIENT_STACK_RE = re.compile(r"^(?P<client>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-(?P<env>production|prod|staging|development|dev)$")
PLATFORM_STACK_RE = re.compile(r"^platform-(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)$")
#: Short environment names allowed in stack names (`acme-prod`).
ENV_SHORT = {"prod": "production", "dev": "development"}


class ConfigError(Exception):
    """Bad stack config. ``lines`` are one-line messages, each naming the full key path."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


@dataclass
class StackConfig:
    """The validated config of one stack."""

    stack: str
    platform: Optional[PlatformConfig] = None
    client: Optional[ClientConfig] = None
    #: Provider config passed through (`aws:region`, …), keyed as in the stack file.
    providers: dict[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return "platform" if self.platform is not None else "client"

    @property
    def environment(self) -> Environment:
        return (self.platform or self.client).environment  # type: ignore[union-attr]


# ---------------------------------------------------------------- reading files


class _SecureTag:
    """Marks a `secure:` value found in a stack file."""

    def __init__(self, ciphertext: str):
        self.ciphertext = ciphertext


#: Most YAML nodes a stack file may expand to once its aliases are followed (a real stack has a few
#: hundred): a few lines of nested aliases ("billion laughs") cannot make the plan use gigabytes.
MAX_YAML_NODES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file, `secure:` entries kept as markers.

    Read as the Pulumi CLI reads it (go-yaml v3): a key given twice in one mapping is an error, not a
    silent "last one wins"; and aliases may not expand the file beyond ``MAX_YAML_NODES`` nodes.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such stack file"]) from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                problems: list[str] = []
                _check_yaml_tree(node, "", {}, set(), problems, path)
                if problems:
                    raise ConfigError(problems)
            doc = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigError([f"{path}: not valid YAML ({first})"]) from None
    doc = doc or {}
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}: a stack file is a mapping with a `config:` key"])
    unknown = sorted(set(doc) - {"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"})
    if unknown:
        raise ConfigError([f"{path}: unknown top-level key(s) {', '.join(unknown)}; allowed: config, secretsprovider, encryptedkey, encryptionsalt, environment"])
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"{path}: `config:` must be a mapping of keys such as `lfh:client`"])
    return _mark_secure(config)


def _check_yaml_tree(node: yaml.Node, path: str, sizes: dict[int, int], open_nodes: set[int],
                     problems: list[str], file: Path) -> int:
    """Duplicate keys (named by their full key) and the size ``node`` expands to; raises ConfigError
    when aliases make it larger than ``MAX_YAML_NODES`` or refer to themselves."""
    ident = id(node)
    if ident in sizes:
        return sizes[ident]
    if ident in open_nodes:
        raise ConfigError([f"{file}: {path or 'the file'}: an alias refers to the mapping or list that contains it; "
                           "stack files must not be recursive"])
    open_nodes.add(ident)
    size = 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                size += _check_yaml_tree(value_node, path, sizes, open_nodes, problems, file)
                continue
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            full = name if path in ("", "config") else f"{path}.{name}"
            if isinstance(key_node, yaml.ScalarNode):
                if name in seen:
                    problems.append(f"{full}: the key is given twice in {file} (lines {seen[name]} and "
                                    f"{key_node.start_mark.line + 1}); keep one (Pulumi refuses duplicate keys)")
                seen.setdefault(name, key_node.start_mark.line + 1)
            size += 1 + _check_yaml_tree(value_node, full, sizes, open_nodes, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            size += _check_yaml_tree(item, f"{path}[{i}]", sizes, open_nodes, problems, file)
    open_nodes.discard(ident)
    sizes[ident] = size
    if size > MAX_YAML_NODES:
        raise ConfigError([f"{file}: {path or 'the file'}: aliases expand it to more than {MAX_YAML_NODES:,} values; "
                           "a stack file this large is refused (write the values out, or drop the nested aliases)"])
    return size


def _mark_secure(node: Any) -> Any:
    if isinstance(node, dict):
        if set(node) == {"secure"} and isinstance(node["secure"], str):
            return _SecureTag(node["secure"])
        return {k: _mark_secure(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mark_secure(v) for v in node]
    return node


def substitute_secrets(config: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Replace `secure:` markers by `[secret:<path>]` placeholders; return the secret paths too."""
    secret_paths: set[str] = set()

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, _SecureTag):
            secret_paths.add(path)
            return f"{SECRET_PLACEHOLDER_PREFIX}{path}]"
        if isinstance(node, dict):
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(node)]
        return node

    return walk(config, ""), secret_paths


# ---------------------------------------------------------------- validating


def parse_stack_config(
    stack: str, config: dict[str, Any], secret_paths: Optional[set[str]] = None
) -> StackConfig:
    """Validate a stack's whole `config:` mapping (secure values already substituted).

    ``secret_paths`` (offline only) are the keys given as `secure:`; when known, every secret field
    must be one of them and no other key may be.
    """
    errors: list[str] = []
    lfh_sections: dict[str, Any] = {}
    providers: dict[str, Any] = {}
    for key, value in config.items():
        ns, _, name = str(key).partition(":")
        if ns == "lfh":
            if name not in LFH_KEYS:
                errors.append(f"{key}: unknown key; allowed: {', '.join('lfh:' + k for k in LFH_KEYS)}")
            else:
                lfh_sections[name] = value
        elif ns in PROVIDER_NAMESPACES and name:
            providers[key] = value
        else:
            errors.append(
                f"{key}: unknown key; allowed: lfh:platform, lfh:client, or provider config "
                f"({', '.join(ns + ':…' for ns in PROVIDER_NAMESPACES)})"
            )
    if len(lfh_sections) != 1:
        errors.append(
            "lfh:platform / lfh:client: a stack file sets exactly one of them "
            f"(found {', '.join('lfh:' + k for k in lfh_sections) or 'neither'})"
        )
    if errors:
        raise ConfigError(errors)

    (section, raw), = lfh_sections.items()
    key = f"lfh:{section}"
    kind = _stack_kind(stack)
    if kind is not None and kind != section:
        other = "lfh:platform" if kind == "platform" else "lfh:client"
        named = "`platform-<name>`" if kind == "platform" else "`<client>-<environment>`"
        raise ConfigError([f"{key}: {stack} is a {kind} stack (named {named}), so its file sets {other}; "
                           f"{key} belongs in a {section} stack's file"])
    if not isinstance(raw, dict):
        raise ConfigError([f"{key}: must be a mapping, got {type(raw).__name__}"])
    env = raw.get("environment", "production")
    try:
        context_env = Environment(env)
    except ValueError:
        context_env = None
    try:
        model = LFH_KEYS[section].model_validate(raw, context={"environment": context_env})
    except ValidationError as exc:
        lines = format_validation_error(key, exc)
        # A `secure:` value on a plain field fails its type first; say what is really wrong.
        for i, line in enumerate(lines):
            path = line.split(": ", 1)[0]
            if secret_paths and path in secret_paths:
                lines[i] = f"{path}: is not a secret field; set it in plain text (only secret fields take `secure:` values)"
        raise ConfigError(lines) from None

    errors = _check_stack_name(stack, section, model)
    if secret_paths is not None:
        errors += _check_secret_placement(key, model, {p for p in secret_paths if p.startswith(key)})
    if errors:
        raise ConfigError(errors)
    return StackConfig(stack=stack, providers=providers, **{section: model})


def _stack_kind(stack: str) -> Optional[str]:
    """`platform` or `client` by the stack's name (None when it is neither)."""
    if PLATFORM_STACK_RE.match(stack):
        return "platform"
    if CLIENT_STACK_RE.match(stack):
        return "client"
    return None


def _one_of(expected: str) -> str:
    """pydantic's `'a', 'b' or 'c'` as `a, b, c`."""
    return expected.replace("'", "").replace(" or ", ", ")


def _shown(value: Any) -> str:
    """A value as the stack file spells it."""
    if isinstance(value, str) and value.startswith(SECRET_PLACEHOLDER_PREFIX):
        return "[secret]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value)


def _plain_message(err: dict) -> str:
    """What a pydantic error means, in the words of a stack file (no validator jargon, no patterns)."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    quoted = " (without quotes)" if isinstance(value, str) else ""
    plural = lambda n, word: f"{n} {word}" + ("" if n == 1 else "s")  # noqa: E731
    messages = {
        "lfh_rule": lambda: ctx.get("problem", ""),
        "lfh_at_key": lambda: ctx.get("message", ""),
        "missing": lambda: "required key is missing",
        "string_type": lambda: ("must be text; put the value in quotes (for `pulumi config set --path`, add "
                                "`--type string`)" if isinstance(value, (int, float)) else "must be text"),
        "int_type": lambda: ("must be a whole number, not true/false" if isinstance(value, bool)
                             else f"must be a whole number{quoted}"),
        "int_from_float": lambda: "must be a whole number",
        "bool_type": lambda: f"must be true or false{quoted}",
        "float_type": lambda: ("must be a number, not true/false" if isinstance(value, bool) else f"must be a number{quoted}"),
        "greater_than_equal": lambda: f"must be at least {ctx.get('ge')}",
        "greater_than": lambda: f"must be more than {ctx.get('gt')}",
        "less_than_equal": lambda: f"must be at most {ctx.get('le')}",
        "less_than": lambda: f"must be less than {ctx.get('lt')}",
        "literal_error": lambda: f"must be one of {_one_of(str(ctx.get('expected', '')))}",
        "enum": lambda: f"must be one of {_one_of(str(ctx.get('expected', '')))}",
        "union_tag_invalid": lambda: f"must be one of {_one_of(str(ctx.get('expected_tags', '')))}",
        "union_tag_not_found": lambda: f"required key is missing (one of {', '.join(_cluster_providers())})",
        "too_short": lambda: f"must have at least {plural(ctx.get('min_length'), 'entry' if ctx.get('min_length') == 1 else 'entrie')}",
        "too_long": lambda: f"must have at most {plural(ctx.get('max_length'), 'entry' if ctx.get('max_length') == 1 else 'entrie')}",
        "list_type": lambda: "must be a list (`- item` lines or `[a, b]`)",
        "dict_type": lambda: "must be a mapping (`key: value` lines)",
        "model_type": lambda: "must be a mapping (`key: value` lines)",
        "model_attributes_type": lambda: "must be a mapping (`key: value` lines)",
        "is_instance_of": lambda: "has the wrong type",
        "string_pattern_mismatch": lambda: "is not in the expected format (see docs/configuration.md)",
    }
    if kind in messages:
        return messages[kind]()
    return err["msg"].removeprefix("Value error, ")


def _cluster_providers() -> list[str]:
    import typing

    from .cluster import ClusterConfig

    union = typing.get_args(ClusterConfig)[0]
    return [str(_literal_tag(m)) for m in typing.get_args(union)]


def format_validation_error(key: str, exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
        # Drop discriminator tags pydantic inserts into union locations (`cluster.aws.region`).
        path = key
        as_key = False
        for part in loc:
            if part.isdigit():
                path += f"[{part}]"
            elif part == "[key]":
                as_key = True  # a map's key failed (a label name, an env var name)
            elif part in {"aws", "azure", "gcp", "existing"} and path.endswith(".cluster"):
                continue
            else:
                path += f".{part}"
        ctx = err.get("ctx") or {}
        if err["type"] == "lfh_at_key":
            sub = str(ctx.get("key", ""))
            path += sub if sub.startswith("[") else f".{sub}"
        for part in getattr(ctx.get("error"), "loc", ()):  # a FieldError names a key below the failing one
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path += f".{str(ctx.get('discriminator', 'provider')).strip(chr(39))}"
        msg = _plain_message(err)
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + _other_kind_hint(key, loc) + _allowed_suffix(exc, err)
        elif as_key:
            msg = f"the key {msg}"
        if err["type"] not in ("missing", "extra_forbidden", "lfh_at_key", "union_tag_not_found") \
                and "input" in err and not isinstance(err["input"], (dict, list)):
            msg = f"{msg} (got {_shown(err['input'])})"
        lines.append(f"{path}: {msg}")
    return lines


def _other_kind_hint(key: str, loc: list[str]) -> str:
    """`; it is a client stack key …` when an unknown top-level key belongs to the other kind of stack."""
    if len(loc) != 1:
        return ""
    section = key.removeprefix("lfh:")
    other = "client" if section == "platform" else "platform"
    fields = {f.alias or n for n, f in LFH_KEYS[other].model_fields.items()}
    if loc[0] not in fields:
        return ""
    return (f" here: {loc[0]} is a {other} stack key (lfh:{other}.{loc[0]}), and this is a {section} stack "
            f"(its file sets {key})")


def _allowed_suffix(exc: ValidationError, err: dict) -> str:
    """`; allowed: a, b, c` for an unknown key, from the model that rejected it."""
    model = _model_at(LFH_KEYS.by_model_name(exc.title), list(err["loc"])[:-1])
    if model is None:
        return ""
    names = [f.alias or n for n, f in model.model_fields.items()]
    return "; allowed: " + ", ".join(names)


def _model_at(model: Any, loc: list) -> Any:
    """The model class found by following ``loc`` (pydantic error location) from ``model``."""
    annotation: Any = model
    for part in loc:
        members = models_in(annotation)
        if not members:
            return None
        if isinstance(part, int) or str(part).isdigit():
            continue
        # A discriminator tag (`existing`) picks a union member.
        tagged = [m for m in members if _literal_tag(m) == part]
        if tagged:
            annotation = tagged[0]
            continue
        current = members[0]
        info = next((i for n, i in current.model_fields.items() if part in (n, i.alias)), None)
        if info is None:
            continue  # a dict key: the value's model follows
        annotation = info.annotation
    members = models_in(annotation)
    return members[0] if members else None


def _literal_tag(model: Any) -> Any:
    import typing

    info = model.model_fields.get("provider") or model.model_fields.get("mode")
    if info is None:
        return None
    args = typing.get_args(info.annotation)
    return args[0] if len(args) == 1 else None


def _check_stack_name(stack: str, section: str, model: Any) -> list[str]:
    if section == "platform":
        m = PLATFORM_STACK_RE.match(stack)
        if not m:
            return [f"stack {stack!r}: a platform stack is named `platform-<name>`"]
        if m["name"] != model.name:
            return [f"lfh:platform.name: is {model.name!r} but the stack is {stack!r}; they must match (`platform-<name>`)"]
        return []
    m = CLIENT_STACK_RE.match(stack)
    if not m:
        return [f"stack {stack!r}: a client stack is named `<client>-<environment>` (environment: production|prod|staging|development|dev)"]
    env = ENV_SHORT.get(m["env"], m["env"])
    errs = []
    if m["client"] != model.name:
        errs.append(f"lfh:client.name: is {model.name!r} but the stack {stack!r} names client {m['client']!r}")
    if env != model.environment.value:
        errs.append(f"lfh:client.environment: is {model.environment.value!r} but the stack {stack!r} says {env!r}")
    return errs


def _check_secret_placement(key: str, model: BaseModel, secret_paths: set[str]) -> list[str]:
    """Secret fields must be `secure:`; `secure:` may only be used on secret fields."""
    secret_fields: dict[str, bool] = {}

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, BaseModel):
            for name, info in type(obj).model_fields.items():
                value = getattr(obj, name)
                sub = f"{path}.{info.alias or name}"
                if isinstance(value, SecretStr):
                    secret_fields[sub] = True
                else:
                    walk(value, sub)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{path}.{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{path}[{i}]")

    walk(model, key)
    errors = [
        f"{p}: holds a secret; set it with `pulumi config set --secret --path '{p}' …` (plain text is not allowed)"
        for p in sorted(secret_fields) if p not in secret_paths
    ]
    errors += [
        f"{p}: is not a secret field; set it in plain text (only secret fields take `secure:` values)"
        for p in sorted(secret_paths) if p not in secret_fields
    ]
    return errors


# ---------------------------------------------------------------- entry points


def load_stack_file(path: Path, stack: Optional[str] = None) -> tuple[StackConfig, dict[str, Any], set[str]]:
    """Read and validate a stack file offline.

    Returns the config, the `config:` mapping with secrets replaced by placeholders (what the plan
    engine hands the program) and the paths of the secret keys.
    """
    path = Path(path)
    stack = stack or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config, secret_paths = substitute_secrets(read_stack_file(path))
    return parse_stack_config(stack, config, secret_paths), config, secret_paths


def from_pulumi() -> StackConfig:
    """Read and validate this stack's config inside a Pulumi program run."""
    import pulumi

    config: dict[str, Any] = {}
    lfh = pulumi.Config("lfh")
    for name in LFH_KEYS:
        value = lfh.get_object(name)
        if value is not None:
            config[f"lfh:{name}"] = value
    # Provider config (PROVIDER_NAMESPACES) is read by the providers themselves; nothing to validate here.
    try:
        return parse_stack_config(pulumi.get_stack(), config)
    except ConfigError as exc:
        # A clear message naming the key, not a traceback, and nothing created.
        raise pulumi.RunError("invalid stack config:\n  " + "\n  ".join(exc.lines)) from None


def dumps_placeholder_config(config: dict[str, Any]) -> dict[str, str]:
    """Config as the Pulumi runtime holds it: every value a string (objects as JSON)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
