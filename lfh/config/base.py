"""Building blocks of the stack config model: strict models, secrets, environments.

Pure data: nothing here imports Pulumi. Every model forbids unknown keys, so a typo in a
stack file is an error that names the key instead of a silently ignored setting.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Callable, ClassVar, Optional, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

#: Marker the offline plan engine substitutes for `secure:` values (see lfh.config.loader).
SECRET_PLACEHOLDER_PREFIX = "[secret:"


class Environment(str, Enum):
    """Environment tier. Production gets HA and stricter defaults; the others may trade them for cost."""

    production = "production"
    staging = "staging"
    development = "development"

    @property
    def is_production(self) -> bool:
        return self is Environment.production


def camel(name: str) -> str:
    """`snake_case` -> `camelCase`: how every key is spelled in stack files, outputs and reports."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, field names are camelCase in YAML."""

    model_config = ConfigDict(
        extra="forbid",
        # No coercion: `true` never becomes 1, `"3"` never becomes 3 (Pulumi hands config over typed:
        # YAML ints and booleans as such, and `config set --path` stores `3`/`true` as int/bool).
        strict=True,
        populate_by_name=True,
        validate_default=True,
        frozen=False,
        # Field docstrings are documentation only (lfh/config/docs.py reads them from the source);
        # pydantic parsing every class's source at import would cost a tenth of a plan.
        use_attribute_docstrings=False,
        # Build validators on first use: a client plan never validates platform/cluster sections.
        defer_build=True,
        alias_generator=lambda name: camel(name),
    )


#: A value that must come from `pulumi config set --secret` (a `secure:` entry in the stack file).
#: Components turn it into `pulumi.Output.secret(...)`; it never prints.
Secret = SecretStr

# ---------------------------------------------------------------- value rules
#
# Each rule is a plain Python check whose message reads as the end of a sentence ("must …"): the
# loader puts the full key in front and the value given behind it. `Rule` states the same rule in
# words for the configuration reference (lfh/config/docs.py prints it next to the key). No rule is a
# bare regular expression: a pattern in an error message means nothing to an operator.


@dataclass(frozen=True)
class Rule:
    """A constraint in words, shown next to its key in docs/configuration.md."""

    text: str


def checked(base: Any, check: Callable[[Any], Optional[str]], rule: str) -> Any:
    """``base`` plus ``check`` (returns a problem such as "must be …", or None), documented as ``rule``."""

    def validate(value: Any) -> Any:
        problem = check(value)
        if problem:
            raise PydanticCustomError("lfh_rule", "{problem}", {"problem": problem})
        return value

    return Annotated[base, AfterValidator(validate), Rule(rule)]


def refuse(key: str, message: str) -> PydanticCustomError:
    """A problem a model validator finds at ``key`` below the model (`minSize`, `[2]`, `backups.defaultTtl`):
    the loader reports it under that key's full path."""
    return PydanticCustomError("lfh_at_key", "{message}", {"key": key, "message": message})


def _not_empty(value: str) -> Optional[str]:
    return "must not be empty" if not value.strip() else None


Text = checked(str, _not_empty, "not empty")
"""A required string: empty or blank is refused."""

# -- DNS (RFC 1123 labels; RFC 1035 §2.3.4: labels ≤ 63 octets, names ≤ 255 octets on the wire,
#    i.e. ≤ 253 characters written out — also Kubernetes' IsDNS1123Label/IsDNS1123Subdomain limits)

_DNS_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def dns_label_problem(value: str, limit: int = 63) -> Optional[str]:
    """Why ``value`` is not a DNS-1123 label of at most ``limit`` characters, or None."""
    if not value:
        return "must not be empty"
    if len(value) > limit:
        return f"is {len(value)} characters long; at most {limit} are allowed"
    bad = sorted(set(value) - _DNS_CHARS)
    if bad:
        hint = "; use lower case" if any(c.isupper() for c in bad) else ""
        return f"may only contain lower-case letters, digits and '-' (found {', '.join(repr(c) for c in bad)}{hint})"
    if value[0] == "-" or value[-1] == "-":
        return "must start and end with a letter or digit"
    return None


def dns_name_problem(value: str, wildcard: bool = True) -> Optional[str]:
    """Why ``value`` is not a fully qualified DNS name (optionally `*.`-prefixed), or None."""
    if not value:
        return "must not be empty"
    if len(value) > 253:
        return f"is {len(value)} characters long; a DNS name has at most 253"
    name = value[2:] if wildcard and value.startswith("*.") else value
    labels = name.split(".")
    if len(labels) < 2:
        return "must be a fully qualified domain name such as example.com"
    for label in labels:
        if not label:
            return "has an empty label (two dots in a row, or a dot at the start or end)"
        problem = dns_label_problem(label)
        if problem:
            return f"has the label {label!r}, which {problem}"
    if not labels[-1].isalpha():
        return "must end in a top-level domain made of letters (such as .com)"
    return None


def k8s_name_problem(value: str) -> Optional[str]:
    """Why ``value`` is not a Kubernetes object name (a DNS-1123 subdomain), or None."""
    if not value:
        return "must not be empty"
    if len(value) > 253:
        return f"is {len(value)} characters long; at most 253 are allowed"
    for label in value.split("."):
        problem = dns_label_problem(label) if label else "must not be empty"
        if problem:
            return f"has the part {label!r}, which {problem}" if "." in value else problem
    return None


DnsLabel = checked(str, dns_label_problem, "DNS label: 1–63 lower-case letters, digits or '-', starting and ending with a letter or digit")
"""A DNS-1123 label: lower-case letters, digits and '-', starting and ending alphanumeric, ≤ 63 chars."""

DnsName = checked(str, dns_name_problem, "DNS name: labels of 1–63 lower-case letters, digits or '-', at most 253 characters (`*.` prefix allowed)")
"""A fully qualified DNS name such as `example.com` (optionally a `*.` wildcard)."""

K8sName = checked(str, k8s_name_problem, "Kubernetes object name: lower-case letters, digits, '-' and '.', at most 253 characters")
"""The name of a Kubernetes object such as a StorageClass (a DNS-1123 subdomain)."""

# -- Kubernetes quantities (k8s.io/apimachinery/pkg/api/resource: number + optional SI/binary suffix)

_QUANTITY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E")


def _quantity_problem(value: str) -> Optional[str]:
    number = value
    for suffix in _QUANTITY_SUFFIXES:
        if value.endswith(suffix):
            number = value[: -len(suffix)]
            break
    whole, _, fraction = number.partition(".")
    if not whole.isdigit() or not whole.isascii() or ("." in number and not (fraction.isdigit() and fraction.isascii())):
        return "must be a Kubernetes quantity: a number with an optional unit, such as 500m, 2, 512Mi or 250Gi"
    if float(number) == 0:
        return "must be more than zero"
    return None


Quantity = checked(str, _quantity_problem, "Kubernetes quantity > 0 (e.g. `500m`, `2`, `512Mi`, `250Gi`)")
"""A Kubernetes resource quantity such as `500m`, `2`, `1Gi`, `250Gi`."""

# -- networks (the standard library's ipaddress)


def ipv4_network(value: str) -> ipaddress.IPv4Network:
    """The network a valid `Cidr` value names."""
    return ipaddress.IPv4Network(value)


def _cidr_problem(value: str) -> Optional[str]:
    if "/" not in value:
        return "must be an IPv4 network with its prefix length, such as 10.0.0.0/16"
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        return ("is not an IPv4 network: four numbers 0–255 separated by dots, then '/' and a prefix "
                "length 0–32 (such as 10.0.0.0/16)")
    if str(net) != value:
        return f"has host bits set: the network is {net}; write that"
    return None


Cidr = checked(str, _cidr_problem, "IPv4 network `a.b.c.d/n` (n 0–32, no host bits)")
"""An IPv4 CIDR block such as `203.0.113.0/24`."""


def cidr_prefix(low: int, high: int, why: str) -> Any:
    """A `Cidr` whose prefix length is from /``low`` to /``high`` (``why``: whose rule, for the message)."""

    def check(value: str) -> Optional[str]:
        prefix = ipv4_network(value).prefixlen
        if not low <= prefix <= high:
            span = f"/{low}" if low == high else f"/{low} to /{high}"
            return f"must be a {span} network ({why}); this one is /{prefix}"
        return None

    span = f"/{low}" if low == high else f"/{low}–/{high}"
    return checked(Cidr, check, f"prefix {span} ({why})")


def _ipv4_problem(value: str) -> Optional[str]:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return "must be an IPv4 address: four numbers 0–255 separated by dots (such as 172.16.0.10)"
    return None


Ipv4Address = checked(str, _ipv4_problem, "IPv4 address")
"""An IPv4 address such as `172.16.0.10`."""

Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP/UDP port, 1–65535."""

# -- durations


def _gateway_duration_problem(value: str, positive: bool = False) -> Optional[str]:
    # Gateway API Duration (GEP-2257): 1–4 parts, each 1–5 digits and a unit h, m, s or ms.
    parts = _duration_parts(value, ("ms", "h", "m", "s"))
    if parts is None or not 1 <= len(parts) <= 4 or any(len(n) > 5 for n, _ in parts):
        return "must be a duration such as 60s, 5m, 1h or 500ms (up to 4 parts of up to 5 digits, units h, m, s, ms)"
    if positive and all(int(n) == 0 for n, _ in parts):
        return "must be longer than zero"
    return None


def _duration_parts(value: str, units: tuple[str, ...]) -> Optional[list[tuple[str, str]]]:
    """`1h30m` -> [("1", "h"), ("30", "m")]; None when ``value`` is not such a sequence."""
    parts: list[tuple[str, str]] = []
    rest = value
    while rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits == 0:
            return None
        number, rest = rest[:digits], rest[digits:]
        unit = next((u for u in units if rest.startswith(u)), None)
        if unit is None:
            return None
        parts.append((number, unit))
        rest = rest[len(unit):]
    return parts or None


Duration = checked(str, _gateway_duration_problem, "duration such as `60s`, `5m`, `1h`, `500ms` (`0s` disables)")
"""A Gateway API / Envoy Gateway duration such as `60s`, `1h`, `500ms`."""

PositiveDuration = checked(str, lambda v: _gateway_duration_problem(v, positive=True), "duration such as `60s`, `5m`, `1h` (longer than zero)")
"""A duration such as `1h` that must not be zero."""

_GO_UNITS = {"h": 1.0, "m": 1 / 60, "s": 1 / 3600, "ms": 1 / 3_600_000}


def go_duration_hours(value: str) -> float:
    """Hours in a Go duration such as `720h`, `720h0m0s`, `90m` (a valid `GoDuration`)."""
    return sum(int(n) * _GO_UNITS[u] for n, u in _duration_parts(value, ("ms", "h", "m", "s")) or [])


#: The longest backup lifetime a stack may ask for (10 years; HIPAA asks for 6).
MAX_TTL_HOURS = 87600


def _ttl_problem(value: str) -> Optional[str]:
    if _duration_parts(value, ("ms", "h", "m", "s")) is None:
        return "must be a duration in hours, minutes and seconds such as 720h or 72h0m0s"
    hours = go_duration_hours(value)
    if hours < 1:
        return "must be at least 1h (a backup that expires at once is no backup)"
    if hours > MAX_TTL_HOURS:
        return f"must be at most {MAX_TTL_HOURS}h (10 years)"
    return None


GoDuration = checked(str, _ttl_problem, f"duration such as `720h` or `72h0m0s`, 1h–{MAX_TTL_HOURS}h")
"""A Velero/Go duration such as `720h0m0s` or `720h` (a backup lifetime: 1 hour to 10 years)."""

# -- schedules: cron, as Kubernetes CronJobs, Velero, Longhorn and the Percona operator read it
#    (all use github.com/robfig/cron/v3's standard parser: five fields or an @descriptor; no
#    seconds, no L/W/#/H extensions, day of week 0–6). Parsed by croniter.

_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_NAMES = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
               "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}


def cron_problem(value: str) -> Optional[str]:
    """Why ``value`` is not a five-field cron schedule every consumer here accepts, or None."""
    from croniter import croniter

    text = value.strip()
    if not text:
        return "must not be empty: give a cron schedule such as `0 3 * * *` (03:00 every day)"
    if text.startswith("@"):
        return None if text in _CRON_DESCRIPTORS else f"must be a five-field cron schedule or one of {', '.join(_CRON_DESCRIPTORS)}"
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        return "names a time zone inside the schedule, which Kubernetes refuses; set the time zone key instead"
    fields = text.split()
    if len(fields) != 5:
        return (f"has {len(fields)} fields; a cron schedule has five — minute hour day-of-month month day-of-week "
                "(such as `0 3 * * *`)")
    for i, part in enumerate(fields):
        words = "".join(c if c.isalpha() else " " for c in part.upper()).split()
        if any(w not in _CRON_NAMES for w in words):
            return f"field {i + 1} ({part!r}) uses letters other than month or weekday names; only digits, * , - / and ? are understood"
        # croniter also reads Quartz/Jenkins extensions (`#`, `L`, `W`, `H`); robfig/cron does not.
        odd = sorted(set(c for c in part if not (c.isalnum() or c in "*,-/?")))
        if odd:
            return f"field {i + 1} ({part!r}) uses {' '.join(odd)}, which Kubernetes's cron parser does not read; only digits, * , - / and ? are understood"
    dow = fields[4]
    if any(n.isdigit() and int(n) > 6 for n in "".join(c if c.isdigit() else " " for c in dow).split()):
        return "day of week must be 0–6 (0 is Sunday; 7 is not understood by Kubernetes or Velero)"
    if not croniter.is_valid(text, strict=True):
        return ("is not a valid cron schedule: minute 0–59, hour 0–23, day of month 1–31, month 1–12, "
                "day of week 0–6, and a day that exists (such as `0 3 * * *`)")
    return None


CronExpression = checked(str, cron_problem, "cron schedule: five fields `min hour day month weekday` (e.g. `0 3 * * *`) or `@daily`-style")
"""A five-field cron schedule such as `0 3 * * *` (parsed by croniter)."""

# -- Kubernetes names (k8s.io/apimachinery/pkg/util/validation: IsQualifiedName, IsValidLabelValue,
#    IsEnvVarName)

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _label_name_problem(value: str) -> Optional[str]:
    if len(value) > 63:
        return f"is {len(value)} characters long; at most 63 are allowed"
    bad = sorted(set(value) - _NAME_CHARS)
    if bad:
        return f"may only contain letters, digits, '-', '_' and '.' (found {', '.join(repr(c) for c in bad)})"
    if value and not (value[0].isalnum() and value[-1].isalnum()):
        return "must start and end with a letter or digit"
    return None


def label_key_problem(value: str) -> Optional[str]:
    """Why ``value`` is not a Kubernetes label/annotation/taint key (`[prefix/]name`), or None."""
    if not value:
        return "must not be empty"
    prefix, slash, name = value.rpartition("/")
    if slash:
        problem = dns_name_problem(prefix, wildcard=False) if "." in prefix else dns_label_problem(prefix)
        if problem:
            return f"has the prefix {prefix!r}, which {problem}"
    if not name:
        return "must have a name after the prefix (`example.com/name`)"
    problem = _label_name_problem(name)
    return f"has the name part {name!r}, which {problem}" if problem and slash else problem


def label_value_problem(value: str) -> Optional[str]:
    return _label_name_problem(value)


LabelKey = checked(str, label_key_problem, "label key: optional DNS prefix and '/', then a name of 1–63 letters, digits, '-', '_' or '.'")
LabelValue = checked(str, label_value_problem, "label value: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric")
Labels = dict[LabelKey, LabelValue]
"""Kubernetes labels: keys and values by the Kubernetes label grammar."""


def env_var_name_problem(value: str) -> Optional[str]:
    # Kubernetes' classic rule (IsEnvVarName, before the relaxed validation of 1.32+): valid on every version.
    if not value:
        return "must not be empty"
    bad = sorted(set(value) - _NAME_CHARS)
    if bad:
        return f"may only contain letters, digits, '_', '-' and '.' (found {', '.join(repr(c) for c in bad)})"
    if value[0].isdigit():
        return "must not start with a digit"
    return None


EnvVarName = checked(str, env_var_name_problem, "environment variable name: letters, digits, '_', '-' or '.', not starting with a digit")
EnvVars = dict[EnvVarName, str]
"""Plain environment variables of a container."""

# -- images: the OCI / distribution reference grammar (github.com/distribution/reference, via
#    docker-image-py, a port of it): `[registry[:port]/]path[:tag][@digest]`.


def _parse_image(value: str) -> Any:
    from docker_image import reference as oci

    return oci.Reference.parse(value)


def image_repository_problem(value: str) -> Optional[str]:
    if not value:
        return "must not be empty"
    try:
        ref = _parse_image(value)
    except Exception:
        return ("is not an image repository: an optional registry host (with an optional :port), then lower-case "
                "path parts separated by '/', such as ghcr.io/org/app or registry.example.com:5000/app")
    if ref["digest"]:
        return f"must be the repository alone; put the digest {ref['digest']!r} under `tag`"
    if ref["tag"]:
        return f"must be the repository alone; {ref['tag']!r} is a tag — put it under `tag`"
    return None


def image_tag_problem(value: str) -> Optional[str]:
    from docker_image import digest as oci_digest, regexp as oci_regexp

    if value == "latest":
        return "must be a pinned version or sha256 digest, never `latest` (it changes under a running deployment)"
    if ":" in value:
        if not value.startswith("sha256:"):
            return "must be a tag (letters, digits, '_', '.', '-') or a `sha256:` digest"
        try:
            oci_digest.validate_digest(value)
        except Exception:
            return "must be a sha256 digest of 64 lower-case hex digits (`sha256:…`)"
        return None
    if not oci_regexp.ImageRegexps.ANCHORED_TAG_REGEXP.match(value):
        return "must be an image tag: 1–128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
    return None


def image_reference_problem(value: str) -> Optional[str]:
    if not value:
        return "must not be empty"
    try:
        ref = _parse_image(value)
    except Exception:
        return "is not an image reference such as registry.k8s.io/kubectl:v1.33.4 or repo@sha256:<64 hex digits>"
    if ref["tag"] == "latest":
        return "must pin a version or digest, never `latest`"
    if not ref["tag"] and not ref["digest"]:
        return "must pin a tag or digest (`repo:1.2.3` or `repo@sha256:…`); a registry port is not a tag"
    return None


ImageRepository = checked(str, image_repository_problem, "image repository without tag (OCI reference grammar; registry port allowed)")
ImageTag = checked(str, image_tag_problem, "pinned image tag or `sha256:` digest; never `latest`")
"""A pinned image tag (never `latest`) or a `sha256:` digest."""
ImageReference = checked(str, image_reference_problem, "full image reference with a pinned tag or digest (OCI reference grammar)")


def image_reference(repository: str, tag: str) -> str:
    """`repo:tag`, or `repo@sha256:…` for a digest: how an image is written wherever one is composed."""
    return f"{repository}@{tag}" if tag.startswith("sha256:") else f"{repository}:{tag}"


def chart_image(repository: str, tag: str) -> dict[str, str]:
    """`{repository, tag}` for a chart that writes `<repository>:<tag>` (MinIO's): a digest goes in as
    repository `repo@sha256` and tag `<hex>`, so the chart renders `repo@sha256:<hex>`."""
    if tag.startswith("sha256:"):
        return {"repository": f"{repository}@sha256", "tag": tag.removeprefix("sha256:")}
    return {"repository": repository, "tag": tag}


# -- lists whose entries must be unique


def unique(what: str, key: Callable[[Any], Any] = lambda item: item, sub: str = "") -> Any:
    """An AfterValidator refusing a list that holds the same ``key`` twice (``what`` names it;
    ``sub`` is the item's key the duplicate is reported at, e.g. `.name`)."""

    def check(items: list) -> list:
        seen: dict[Any, int] = {}
        for i, item in enumerate(items):
            k = key(item)
            if k in seen:
                raise refuse(f"[{i}]{sub}", f"repeats the {what} {k!r} of entry [{seen[k]}]; each {what} may appear once")
            seen[k] = i
        return items

    return UniqueEntries(check, lfh_rule=f"no {what} twice")


@dataclass(frozen=True, slots=True)
class UniqueEntries(AfterValidator):
    """The validator `unique` returns; ``lfh_rule`` is its rule in words for the configuration reference."""

    lfh_rule: str = ""


# -- chart version overrides (`chartVersions`): exact versions of pinned charts, as Helm takes
#    `--version` (a range such as ^1.2 would float; semver 2.0 via the `semver` library)


def _chart_key_problem(value: str) -> Optional[str]:
    from lfh.charts import CHARTS

    return None if value in CHARTS else f"is not a pinned chart; chartVersions keys are: {', '.join(sorted(CHARTS))}"


def _chart_version_problem(value: str) -> Optional[str]:
    import semver

    try:
        semver.Version.parse(value.removeprefix("v"))
    except ValueError:
        return "must be an exact chart version such as 1.2.3 or v1.2.3 (no ranges such as ^1.2 or ~1.2, no `latest`)"
    return None


ChartKey = checked(str, _chart_key_problem, "a chart key of lfh/charts.py")
ChartVersion = checked(str, _chart_version_problem, "exact version `1.2.3` / `v1.2.3` (no ranges)")
ChartVersions = dict[ChartKey, ChartVersion]
"""Overrides of pinned chart versions: chart key -> exact version."""

#: The environment tier, accepted as its name (`production`) although models are strict.
EnvironmentTier = Annotated[Environment, Strict(False)]


def max_chars(limit: int, why: str) -> BeforeValidator:
    """A length limit checked before the value's own type (so a 64-character name hears about this limit,
    not a looser one of its type); ``why`` says what the name becomes part of."""
    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            raise PydanticCustomError("lfh_rule", "{problem}", {"problem": (
                f"is {len(value)} characters; at most {limit} characters are allowed ({why})")})
        return value

    return BeforeValidator(check)


def secret_value(value: SecretStr | None) -> str | None:
    """The plain text of a secret, for handing to `pulumi.Output.secret` only."""
    return None if value is None else value.get_secret_value()


def field(default: Any = ..., description: str = "", rule: str = "", **kwargs: Any) -> Any:
    """A model field with its one-line description (shown by `python -m lfh config-docs`); ``rule``
    states a constraint a model validator enforces (e.g. "≤ maxSize"), printed next to the key."""
    if rule:
        kwargs["json_schema_extra"] = {"rule": rule}
    return Field(default, description=description, **kwargs)


class EnvAwareModel(StrictModel):
    """A section whose defaults depend on the environment tier.

    Subclasses list them in ``ENV_DEFAULTS = {"fieldName": {"production": 2, "staging": 1, ...}}``
    (keys are the YAML/camelCase names). A value missing from the stack file is filled from the
    table for the environment given in the validation context; the docs print the table.
    """

    ENV_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _fill_environment_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        env = (info.context or {}).get("environment")
        if not isinstance(data, dict) or env is None or not cls.ENV_DEFAULTS:
            return data
        env = env.value if isinstance(env, Environment) else str(env)
        filled = dict(data)
        for key, per_env in cls.ENV_DEFAULTS.items():
            if key not in filled and env in per_env:
                filled[key] = per_env[env]
        return filled


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The config models an annotation holds: itself, or the members of an Optional/Union/list/dict."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in models_in(arg)]


class FieldError(ValueError):
    """A model validator's error about a key below the model: the loader appends ``loc`` (camelCase
    parts, list indexes as ints) to the model's own path, so the message names the full key."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = tuple(loc)




def time_zone(value: str) -> str:
    """An IANA time zone name (what a CronJob's `timeZone` accepts)."""
    import zoneinfo

    if value not in zoneinfo.available_timezones():
        raise ValueError("must be an IANA time zone name such as `Etc/UTC` or `America/New_York`")
    return value


TimeZone = Annotated[str, AfterValidator(time_zone)]
"""An IANA time zone name such as `Etc/UTC`."""


# ---------------------------------------------------------------- environment variables and secrets


#: Names of environment variables that hold secrets: the rule of the policy `k8s-no-plaintext-secret-env`
#: (policy/lfh_policies/kubernetes.py; a test keeps the two identical). Such a variable never takes a
#: plain value in a stack file: it comes from the secret manager (`secretEnv`).
SECRET_ENV_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|MONGO_URI|DATABASE_URL)", re.I)


def plain_env(values: dict[str, str]) -> dict[str, str]:
    """Plain environment variables: refuse any whose name marks it secret (see SECRET_ENV_NAME)."""
    for name in values:
        if SECRET_ENV_NAME.search(name):
            raise FieldError((name,), (
                "names a secret (PASSWORD, SECRET, TOKEN, API_KEY, PRIVATE_KEY, ACCESS_KEY, CREDENTIAL, MONGO_URI "
                "or DATABASE_URL in the name), so it cannot take a plain value; map it under `secretEnv` to a "
                "secret in the secret manager instead"))
    return values


PlainEnv = Annotated[EnvVars, AfterValidator(plain_env)]
"""Plain environment variables; names that mark a secret are refused (they belong in `secretEnv`)."""

#: Environment names that can't start a secret reference: a reference is relative to this
#: environment's own path, so `staging/...` would be an attempt to read another environment's.
_OTHER_PATH_WORDS = {"production", "prod", "staging", "development", "dev", "platform", "clients", "shared"}


def secret_ref(value: str) -> str:
    """`name` or `name/property`, relative to this environment's own secret path."""
    parts = value.split("/")
    if value.startswith("/") or any(p in ("", ".", "..") for p in parts) or len(parts) > 2 \
            or parts[0] in _OTHER_PATH_WORDS:
        raise ValueError(
            "must be `<name>` or `<name>/<property>` inside this environment's own secret path "
            "`<platform>/<client>/<environment>/`; it cannot reach another client's or environment's secrets")
    name = parts[0]
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) or len(name) > 63:
        raise ValueError(f"secret name {name!r} must be lower-case letters and digits in words joined by single "
                         "`-` (at most 63 characters; `--` and `__` stand for `/` in Key Vault and Secret Manager names)")
    if len(parts) == 2 and not re.fullmatch(r"[A-Za-z0-9_.-]{1,253}", parts[1]):
        raise ValueError(f"property {parts[1]!r} must be letters, digits, `_`, `.` or `-` (a JSON property or Secret key)")
    return value


SecretRef = Annotated[str, AfterValidator(secret_ref)]
"""`<name>` or `<name>/<property>` of a secret under `<platform>/<client>/<environment>/`."""


def secret_name(value: str) -> str:
    """`<name>` of a secret under this environment's own path (no property)."""
    if "/" in value:
        raise ValueError("must be a secret name without `/` (the secret's properties are fixed: see the key's description)")
    return secret_ref(value)


SecretName = Annotated[str, AfterValidator(secret_name)]
"""`<name>` of a secret under `<platform>/<client>/<environment>/`."""
