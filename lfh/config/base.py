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
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
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


def max_chars(limit: int, why: str) -> BeforeValidator:
    """A length limit checked before the value's own type (so a 64-character name hears about this limit,
    not a looser one of its type); ``why`` says what the name becomes part of."""
    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            raise PydanticCustomError("too_long", "is {length} characters; at most {limit} characters are allowed ({why})",
                                      {"length": len(value), "limit": limit, "why": why})
        return value

    return BeforeValidator(check)


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
