"""A small validator for the JSON Schema subset the API documents (OpenAPI 3.1 = JSON Schema
2020-12). The same schema objects feed the OpenAPI document and this validator, so what is
documented is what is enforced. Errors name the field by its path, e.g. ``records[3].seq``.

Supported keywords: type (one or a list), properties, required, additionalProperties (false),
minProperties, enum, minLength, maxLength, pattern, minimum, maximum, items, minItems,
maxItems, uniqueItems, format (date-time), default (filled in for absent properties).

Each schema is compiled once into a tree of closures (terminal batches validate a hundred
records per request, so the keyword dispatch is done at compile time, not per value).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.errors import ValidationError

Schema = dict[str, Any]
Check = Callable[[Any, str], Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
# Schemas are module-level constants; compiled checks are kept by identity (the schema object
# is kept too, so that its id cannot be reused by another object).
_COMPILED: dict[int, tuple[Schema, Check]] = {}


def validate(value: Any, schema: Schema, path: str = "body") -> Any:
    """Check ``value`` against ``schema``; return it with defaults filled in."""
    return compiled(schema)(value, path)


def compiled(schema: Schema) -> Check:
    found = _COMPILED.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    check = _compile(schema)
    if len(_COMPILED) > 10_000:  # only reached if callers build schemas per request
        _COMPILED.clear()
    _COMPILED[id(schema)] = (schema, check)
    return check


def _compile(schema: Schema) -> Check:
    type_check = _type_check(schema.get("type"))
    steps: list[Callable[[Any, str], None]] = []
    if "enum" in schema:
        allowed, text = schema["enum"], ", ".join(map(str, schema["enum"]))

        def enum(value: Any, path: str) -> None:
            if value not in allowed:
                raise ValidationError(path, f"must be one of {text}")

        steps.append(enum)
    string, number = _string(schema), _number(schema)
    array = _array(schema) if "items" in schema or "minItems" in schema or \
        "maxItems" in schema or "uniqueItems" in schema else None
    obj = _object(schema) if "properties" in schema or "required" in schema or \
        "additionalProperties" in schema or "minProperties" in schema else None

    def check(value: Any, path: str) -> Any:
        type_check(value, path)
        if value is None:
            return None
        for step in steps:
            step(value, path)
        if isinstance(value, str):
            string(value, path)
        elif isinstance(value, bool):
            pass
        elif isinstance(value, (int, float)):
            number(value, path)
        elif isinstance(value, list) and array is not None:
            return array(value, path)
        elif isinstance(value, dict) and obj is not None:
            return obj(value, path)
        return value

    return check


def _type_check(types: Any) -> Callable[[Any, str], None]:
    if types is None:
        return lambda value, path: None
    names = [types] if isinstance(types, str) else list(types)
    kinds = tuple(k for n in names for k in _TYPES[n])
    numeric = "integer" in names or "number" in names
    boolean = "boolean" in names
    text = " or ".join(names)

    def check(value: Any, path: str) -> None:
        # bool is an int in Python, but true is not an integer in JSON.
        if not isinstance(value, kinds) or (
                isinstance(value, bool) and numeric and not boolean):
            raise ValidationError(path, f"expected {text}")

    return check


def _string(schema: Schema) -> Callable[[str, str], None]:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    date_time = schema.get("format") == "date-time"

    def check(value: str, path: str) -> None:
        if len(value) < low:
            raise ValidationError(path, f"at least {low} characters")
        if high is not None and len(value) > high:
            raise ValidationError(path, f"at most {high} characters")
        if pattern is not None and not pattern.search(value):
            raise ValidationError(path, f"does not match {pattern.pattern}")
        if date_time:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise ValidationError(path, "expected an RFC 3339 date-time") from None
            if parsed.tzinfo is None:
                raise ValidationError(path, "date-time needs a time zone offset (e.g. Z)")

    return check


def _number(schema: Schema) -> Callable[[float, str], None]:
    low, high = schema.get("minimum"), schema.get("maximum")

    def check(value: float, path: str) -> None:
        if low is not None and value < low:
            raise ValidationError(path, f"at least {low}")
        if high is not None and value > high:
            raise ValidationError(path, f"at most {high}")

    return check


def _array(schema: Schema) -> Callable[[list[Any], str], list[Any]]:
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    items = compiled(schema["items"]) if "items" in schema else None
    unique = bool(schema.get("uniqueItems"))

    def check(value: list[Any], path: str) -> list[Any]:
        if len(value) < low:
            raise ValidationError(path, f"at least {low} items")
        if high is not None and len(value) > high:
            raise ValidationError(path, f"at most {high} items")
        out = [items(v, f"{path}[{i}]") for i, v in enumerate(value)] if items else value
        if unique and len({repr(v) for v in out}) != len(out):
            raise ValidationError(path, "items must be unique")
        return out

    return check


def _object(schema: Schema) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    props = {name: compiled(sub) for name, sub in schema.get("properties", {}).items()}
    defaults = {name: sub["default"] for name, sub in schema.get("properties", {}).items()
                if "default" in sub}
    required = tuple(schema.get("required", ()))
    closed = schema.get("additionalProperties") is False
    least = schema.get("minProperties", 0)

    def check(value: dict[str, Any], path: str) -> dict[str, Any]:
        prefix = "" if path in ("body", "query") else f"{path}."
        for name in required:
            if name not in value:
                raise ValidationError(f"{prefix}{name}", "required")
        if closed:
            for name in value:
                if name not in props:
                    raise ValidationError(f"{prefix}{name}", "unknown field")
        if len(value) < least:
            raise ValidationError(path, f"at least {least} field(s)")
        out = dict(value)
        for name, sub in value.items():
            if name in props:
                out[name] = props[name](sub, f"{prefix}{name}")
        for name, default in defaults.items():
            out.setdefault(name, default)
        return out

    return check


def coerce_query(raw: dict[str, str], schema: Schema) -> dict[str, Any]:
    """Query strings are text: convert each to its documented type, then validate."""
    props: dict[str, Schema] = schema.get("properties", {})
    converted: dict[str, Any] = {}
    for name, text in raw.items():
        sub = props.get(name)
        if sub is None:
            raise ValidationError(name, "unknown query parameter")
        converted[name] = _convert(text, sub, name)
    result: dict[str, Any] = validate(converted, schema, "query")
    return result


def _convert(text: str, schema: Schema, name: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValidationError(name, "expected an integer") from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValidationError(name, "expected true or false")
        return text == "true"
    return text
