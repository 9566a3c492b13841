"""Building blocks of the stack config model: strict models, secrets, environments.

Pure data: nothing here imports Pulumi. Every model forbids unknown keys, so a typo in a
stack file is an error that names the key instead of a silently ignored setting.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, ClassVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

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

DnsLabel = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63),
]
"""A DNS-1123 label: lower-case letters, digits and '-', starting and ending alphanumeric, ≤ 63 chars."""

DnsName = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$", max_length=253
    ),
]
"""A fully qualified DNS name such as `example.com` (optionally a `*.` wildcard)."""

Quantity = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|k|M|G|T)?$"),
]
"""A Kubernetes resource quantity such as `500m`, `2`, `1Gi`, `250Gi`."""

Cidr = Annotated[
    str,
    StringConstraints(pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"),
]
"""An IPv4 CIDR block such as `203.0.113.0/24`."""

def _pinned_tag(value: str) -> str:
    # A rule in Python, not a pattern: "anything but latest" needs a look-ahead, which
    # pydantic-core's regex engine does not support.
    if value == "latest" or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64}", value):
        raise ValueError("must be a pinned image tag or sha256 digest, never `latest`")
    return value


ImageTag = Annotated[str, AfterValidator(_pinned_tag)]
"""A pinned image tag (never `latest`) or a `sha256:` digest."""


def secret_value(value: SecretStr | None) -> str | None:
    """The plain text of a secret, for handing to `pulumi.Output.secret` only."""
    return None if value is None else value.get_secret_value()


def field(default: Any = ..., description: str = "", **kwargs: Any) -> Any:
    """A model field with its one-line description (shown by `python -m lfh config-docs`)."""
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


# ---------------------------------------------------------------- schedules

#: The descriptors robfig/cron's standard parser accepts besides five fields — the parser Kubernetes
#: CronJobs (`cron.ParseStandard`), Velero schedules and the Percona operator's backup tasks use.
CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_NAMES = re.compile(r"(?i)jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat")
_CRON_HELP = ("five fields `minute hour day-of-month month day-of-week` (0-59, 0-23, 1-31, 1-12 or JAN-DEC, "
              "0-6 or SUN-SAT; `*`, `,`, `-`, `/`), e.g. `0 3 * * *`, or one of " + ", ".join(CRON_DESCRIPTORS))


def cron_schedule(value: str) -> str:
    """A cron schedule as Kubernetes, Velero and the Percona operator read it, parsed by croniter
    (which also refuses dates that never occur, such as `0 0 30 2 *`). Reusable for every schedule key."""
    from croniter import CroniterError, croniter

    text = " ".join(str(value).split())
    if not text:
        raise ValueError(f"is empty; a schedule is {_CRON_HELP}")
    if text.startswith("@"):
        if text not in CRON_DESCRIPTORS:
            raise ValueError(f"{text!r} is not a schedule; allowed: {_CRON_HELP}")
        return text
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        raise ValueError("names a time zone inside the schedule, which Kubernetes refuses; set the time zone key instead")
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(f"has {len(fields)} fields; a schedule is {_CRON_HELP}")
    # croniter also reads Quartz/Jenkins extensions (L, W, #, H) and day-of-week 7; robfig/cron does not.
    if any(re.sub(r"[0-9*,/?-]", "", _CRON_NAMES.sub("", f)) for f in fields) \
            or re.search(r"(^|[,-])7($|[,/-])", fields[4]):
        raise ValueError(f"uses syntax Kubernetes's cron parser does not read; a schedule is {_CRON_HELP}")
    try:
        croniter(text)
    except (CroniterError, ValueError) as exc:
        reason = re.sub(r"^\[[^\]]*\]\s*(is not acceptable,?\s*)?", "", str(exc)) or "unreadable field"
        raise ValueError(f"is not a valid schedule ({reason}); a schedule is {_CRON_HELP}") from None
    if not croniter.is_valid(text, strict=True):
        raise ValueError("never runs (that day does not occur in that month)")
    return text


CronSchedule = Annotated[str, AfterValidator(cron_schedule)]
"""A cron schedule (five fields or an `@daily`-style descriptor), checked by croniter."""


def time_zone(value: str) -> str:
    """An IANA time zone name (what a CronJob's `timeZone` accepts)."""
    import zoneinfo

    if value not in zoneinfo.available_timezones():
        raise ValueError("must be an IANA time zone name such as `Etc/UTC` or `America/New_York`")
    return value


TimeZone = Annotated[str, AfterValidator(time_zone)]
"""An IANA time zone name such as `Etc/UTC`."""


# ---------------------------------------------------------------- environment variables and secrets

def env_var_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", value):
        raise ValueError(f"{value!r} is not an environment variable name: letters, digits and `_`, "
                         "not starting with a digit, at most 128 characters")
    return value


EnvVarName = Annotated[str, AfterValidator(env_var_name)]
"""An environment variable name: letters, digits and `_`, not starting with a digit."""

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


PlainEnv = Annotated[dict[EnvVarName, str], AfterValidator(plain_env)]
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
