"""A small, fast validator for the two kinds of schema our manifests meet.

- **Kubernetes OpenAPI** (the strict JSON schemas `kubernetes-validate` ships): `$ref` into
  `_definitions.json`, `type`, `properties`, `additionalProperties`, `items`, `required`, `enum`,
  `oneOf`. Unknown fields are errors because the strict schemas say `additionalProperties: false`.
- **CRD structural schemas** (`openAPIV3Schema`): the same plus `nullable`, `pattern`, length/size/
  range limits, `anyOf`/`allOf`/`oneOf`/`not` and the `x-kubernetes-*` extensions. The API server
  *prunes* fields a structural schema does not specify, silently; we report them as unknown fields
  instead (`x-kubernetes-preserve-unknown-fields: true` or an `additionalProperties` schema opens an
  object).

Why not `jsonschema`: importing it costs ~0.2 s and validating one Deployment ~2 ms through
`referencing`; a plan checks dozens of objects inside a ~1.5 s budget. This validator covers exactly
the keywords those schemas use (tests cross-check it against `kubernetes_validate.validate`), and
`compile_check` tells the caller when a schema uses a keyword it does not know, so nothing is
silently ignored. CEL rules (`x-kubernetes-validations`) and `format` are not evaluated.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Optional

from .model import SECRET as SECRET_MARKER  # how plans show secrets; such a value is never judged

#: Keywords that only annotate (no effect on validity here).
_ANNOTATIONS = frozenset({
    "description", "title", "default", "example", "examples", "format", "$schema", "$id", "$comment",
    "deprecated", "readOnly", "writeOnly", "externalDocs", "discriminator", "xml",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key", "x-kubernetes-group-version-kind",
    "x-kubernetes-unions", "x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource", "nullable", "$defs", "definitions",
})
#: Keywords this validator evaluates.
_EVALUATED = frozenset({
    "$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "items",
    "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
    "anyOf", "allOf", "oneOf", "not",
})
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf")
_SCHEMA_ONE = ("items", "additionalProperties", "not")

_TYPES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


@dataclass(frozen=True)
class SchemaError:
    """One way an instance fails its schema: where (path parts) and why."""

    path: tuple[Any, ...]
    message: str
    unknown_field: bool = False

    @property
    def where(self) -> str:
        return render_path(self.path)


def render_path(path: Iterable[Any]) -> str:
    """`spec.template.spec.containers[0].image` (keys with dots or odd characters as `["a.b"]`)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{str(part)!r}]"
    return out or "(root)"


def unknown_keywords(schema: Any) -> set[str]:
    """Validation keywords in ``schema`` this validator does not evaluate (should be empty)."""
    found: set[str] = set()

    def walk(s: Any) -> None:
        if not isinstance(s, dict):
            return
        for key, value in s.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                for sub in value.values():
                    walk(sub)
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                for sub in value:
                    walk(sub)
            elif key in _SCHEMA_ONE:
                walk(value)
            elif key not in _EVALUATED and key not in _ANNOTATIONS:
                found.add(key)

    walk(schema)
    return found


@lru_cache(maxsize=512)
def _regex(pattern: str) -> Optional[re.Pattern[str]]:
    try:
        return re.compile(pattern)
    except re.error:  # an RE2/ECMA-only construct: not checked rather than guessed
        return None


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Validator:
    """Validates instances against one schema.

    ``crd=True``: structural-schema semantics — objects that specify `properties` (or nothing at
    all) reject unknown fields unless `x-kubernetes-preserve-unknown-fields: true` or an
    `additionalProperties` schema says otherwise; `nullable`; `x-kubernetes-int-or-string`;
    `x-kubernetes-embedded-resource` (apiVersion/kind/metadata implied). The root's `metadata` is
    only checked to be an object (the API server validates it as ObjectMeta).
    ``defs``: the target of `$ref`s (`…#/$defs/<name>`).
    ``ignore_required``: for partial objects (server-side apply patches).
    """

    def __init__(self, schema: dict[str, Any], *, defs: Optional[dict[str, Any]] = None, crd: bool = False,
                 ignore_required: bool = False, max_errors: int = 20, opaque: Optional[str] = SECRET_MARKER):
        self.schema = schema
        self.opaque = opaque
        self.defs = defs or {}
        self.crd = crd
        self.ignore_required = ignore_required
        self.max_errors = max_errors

    def errors(self, instance: Any) -> list[SchemaError]:
        out: list[SchemaError] = []
        self._validate(self.schema, instance, (), out, skeleton=self.crd, root=self.crd)
        return out[: self.max_errors]

    def is_valid(self, instance: Any) -> bool:
        return not self.errors(instance)

    # ------------------------------------------------------------------ internals

    def _resolve(self, ref: str) -> dict[str, Any]:
        name = ref.rsplit("/", 1)[-1]
        target = self.defs.get(name)
        if target is None:
            raise KeyError(f"unresolvable $ref {ref!r}")
        return target

    def _branch_ok(self, schema: Any, instance: Any, path: tuple) -> tuple[bool, list[SchemaError]]:
        errs: list[SchemaError] = []
        # Branches of anyOf/allOf/oneOf/not only add value validations in a structural schema:
        # fields are declared in the skeleton, so branches never reject unknown fields themselves.
        self._validate(schema, instance, path, errs, skeleton=False, root=False)
        return not errs, errs

    def _validate(self, schema: Any, inst: Any, path: tuple, out: list[SchemaError], *, skeleton: bool, root: bool) -> None:
        if len(out) >= self.max_errors:
            return
        if schema is True or schema is None:
            return
        if self.opaque is not None and inst == self.opaque:
            return  # a masked secret: its real value (and type) is unknown here, so it is not judged
        if schema is False:
            out.append(SchemaError(path, "no value is allowed here"))
            return
        if "$ref" in schema:
            self._validate(self._resolve(schema["$ref"]), inst, path, out, skeleton=skeleton, root=root)

        int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
        types = schema.get("type")
        if types is not None and not isinstance(types, list):
            types = [types]

        if inst is None:
            if "$ref" in schema:  # the referenced schema decided
                return
            allowed = schema.get("nullable") or (types is not None and "null" in types) or (types is None and not int_or_string)
            if not allowed:
                out.append(SchemaError(path, "null is not allowed (the field is not nullable)"))
            return

        if int_or_string:
            if not (_TYPES["integer"](inst) or isinstance(inst, str)):
                out.append(SchemaError(path, f"expected an integer or a string, got {type_name(inst)}"))
                return
        elif types is not None:
            if not any(_TYPES.get(t, lambda v: True)(inst) for t in types):
                want = " or ".join(t for t in types if t != "null")
                out.append(SchemaError(path, f"expected {want}, got {type_name(inst)} {_short(inst)}"))
                return

        if "enum" in schema and not _in_enum(inst, schema["enum"]):
            out.append(SchemaError(path, f"{_short(inst)} is not one of {_short(schema['enum'], 120)}"))
        if "const" in schema and not _in_enum(inst, [schema["const"]]):
            out.append(SchemaError(path, f"{_short(inst)} must be {_short(schema['const'])}"))

        if isinstance(inst, str):
            self._string(schema, inst, path, out)
        elif _TYPES["number"](inst):
            self._number(schema, inst, path, out)
        elif isinstance(inst, list):
            self._array(schema, inst, path, out, skeleton)
        elif isinstance(inst, dict):
            self._object(schema, inst, path, out, skeleton, root)

        for key in ("allOf", "anyOf", "oneOf", "not"):
            if key in schema:
                self._combinator(key, schema[key], inst, path, out)

    def _string(self, schema: dict, inst: str, path: tuple, out: list[SchemaError]) -> None:
        if "pattern" in schema:
            rx = _regex(schema["pattern"])
            if rx is not None and not rx.search(inst):
                out.append(SchemaError(path, f"{_short(inst)} does not match pattern {schema['pattern']!r}"))
        if "minLength" in schema and len(inst) < schema["minLength"]:
            out.append(SchemaError(path, f"{_short(inst)} is shorter than {schema['minLength']} characters"))
        if "maxLength" in schema and len(inst) > schema["maxLength"]:
            out.append(SchemaError(path, f"{_short(inst)} is longer than {schema['maxLength']} characters"))

    def _number(self, schema: dict, inst: float, path: tuple, out: list[SchemaError]) -> None:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if isinstance(xlo, bool):  # OpenAPI 3.0 form: a flag on `minimum`
            xlo = lo if xlo else None
            lo = None if xlo is not None else lo
        if isinstance(xhi, bool):
            xhi = hi if xhi else None
            hi = None if xhi is not None else hi
        if lo is not None and inst < lo:
            out.append(SchemaError(path, f"{inst} is less than the minimum {lo}"))
        if hi is not None and inst > hi:
            out.append(SchemaError(path, f"{inst} is greater than the maximum {hi}"))
        if xlo is not None and inst <= xlo:
            out.append(SchemaError(path, f"{inst} must be greater than {xlo}"))
        if xhi is not None and inst >= xhi:
            out.append(SchemaError(path, f"{inst} must be less than {xhi}"))
        m = schema.get("multipleOf")
        if m and abs(inst / m - round(inst / m)) > 1e-9:
            out.append(SchemaError(path, f"{inst} is not a multiple of {m}"))

    def _array(self, schema: dict, inst: list, path: tuple, out: list[SchemaError], skeleton: bool) -> None:
        if "minItems" in schema and len(inst) < schema["minItems"]:
            out.append(SchemaError(path, f"has {len(inst)} items, fewer than the minimum {schema['minItems']}"))
        if "maxItems" in schema and len(inst) > schema["maxItems"]:
            out.append(SchemaError(path, f"has {len(inst)} items, more than the maximum {schema['maxItems']}"))
        if schema.get("uniqueItems"):
            seen = []
            for item in inst:
                if item in seen:
                    out.append(SchemaError(path, f"items are not unique ({_short(item)} repeats)"))
                    break
                seen.append(item)
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(inst):
                self._validate(items, item, path + (i,), out, skeleton=skeleton, root=False)

    def _object(self, schema: dict, inst: dict, path: tuple, out: list[SchemaError], skeleton: bool, root: bool) -> None:
        props: dict[str, Any] = schema.get("properties") or {}
        embedded = self.crd and bool(schema.get("x-kubernetes-embedded-resource"))
        implied = {"apiVersion", "kind", "metadata"} if (root or embedded) else set()
        if not self.ignore_required:
            for name in schema.get("required") or ():
                if name not in inst:
                    out.append(SchemaError(path + (name,), f"required field {name!r} is missing"))
        if embedded:
            for name in ("apiVersion", "kind"):
                if name not in inst:
                    out.append(SchemaError(path + (name,), f"embedded resource needs {name!r}"))
        if "minProperties" in schema and len(inst) < schema["minProperties"]:
            out.append(SchemaError(path, f"has {len(inst)} fields, fewer than the minimum {schema['minProperties']}"))
        if "maxProperties" in schema and len(inst) > schema["maxProperties"]:
            out.append(SchemaError(path, f"has {len(inst)} fields, more than the maximum {schema['maxProperties']}"))

        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        # Structural schemas: fields not in the skeleton are pruned by the API server — unknown.
        closed = additional is False or (skeleton and additional is None and not preserve)
        for key, value in inst.items():
            sub = path + (key,)
            if key in implied and key not in props:
                if key == "metadata" and not isinstance(value, dict):
                    out.append(SchemaError(sub, f"expected object, got {type_name(value)}"))
                elif key != "metadata" and not isinstance(value, str):
                    out.append(SchemaError(sub, f"expected string, got {type_name(value)}"))
                continue
            if key == "metadata" and (root or embedded):
                if not isinstance(value, dict):
                    out.append(SchemaError(sub, f"expected object, got {type_name(value)}"))
                continue
            if key in props:
                self._validate(props[key], value, sub, out, skeleton=skeleton, root=False)
            elif isinstance(additional, dict):
                self._validate(additional, value, sub, out, skeleton=skeleton, root=False)
            elif closed:
                out.append(SchemaError(sub, f"unknown field {key!r}{_suggest(key, props)}", unknown_field=True))
            if len(out) >= self.max_errors:
                return

    def _combinator(self, key: str, branches: Any, inst: Any, path: tuple, out: list[SchemaError]) -> None:
        if key == "not":
            ok, _ = self._branch_ok(branches, inst, path)
            if ok:
                out.append(SchemaError(path, f"{_short(inst)} matches a form that is not allowed"))
            return
        results = [self._branch_ok(b, inst, path) for b in branches]
        passed = sum(1 for ok, _ in results if ok)
        if key == "allOf":
            for ok, errs in results:
                if not ok:
                    out.extend(errs)
        elif key == "anyOf" and passed == 0:
            first = min((errs for _, errs in results), key=len)
            out.append(SchemaError(path, "matches none of the allowed forms (anyOf): " + "; ".join(
                f"{e.where}: {e.message}" for e in first[:2])))
        elif key == "oneOf" and passed != 1:
            if passed == 0:
                first = min((errs for _, errs in results), key=len)
                out.append(SchemaError(path, "matches none of the allowed forms (oneOf): " + "; ".join(
                    f"{e.where}: {e.message}" for e in first[:2])))
            else:
                out.append(SchemaError(path, f"matches {passed} of the forms, but exactly one is allowed (oneOf)"))


def _in_enum(inst: Any, enum: list[Any]) -> bool:
    for e in enum:
        if inst == e and isinstance(inst, bool) == isinstance(e, bool):
            return True
    return False


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
