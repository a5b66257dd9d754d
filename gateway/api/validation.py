"""A small validator for the JSON Schema subset the API documents (OpenAPI 3.1 = JSON Schema
2020-12). The same schema objects feed the OpenAPI document and this validator, so what is
documented is what is enforced. Errors name the field by its path, e.g. ``records[3].seq``.

Supported keywords: type (one or a list), properties, required, additionalProperties (false),
minProperties, enum, minLength, maxLength, pattern, minimum, maximum, items, minItems,
maxItems, uniqueItems, format (date-time), default (filled in for absent properties).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from gateway.errors import ValidationError

Schema = dict[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _is(value: Any, name: str) -> bool:
    # bool is an int in Python, but true is not an integer in JSON.
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: Schema, path: str = "body") -> Any:
    """Check ``value`` against ``schema``; return it with defaults filled in."""
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, n) for n in names):
            raise ValidationError(path, f"expected {' or '.join(names)}")
    if value is None:
        return None
    if "enum" in schema and value not in schema["enum"]:
        raise ValidationError(path, f"must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        _string(value, schema, path)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _number(value, schema, path)
    elif isinstance(value, list):
        return _array(value, schema, path)
    elif isinstance(value, dict):
        return _object(value, schema, path)
    return value


def _string(value: str, schema: Schema, path: str) -> None:
    if len(value) < schema.get("minLength", 0):
        raise ValidationError(path, f"at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise ValidationError(path, f"at most {schema['maxLength']} characters")
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        raise ValidationError(path, f"does not match {schema['pattern']}")
    if schema.get("format") == "date-time":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(path, "expected an RFC 3339 date-time") from None
        if parsed.tzinfo is None:
            raise ValidationError(path, "date-time needs a time zone offset (e.g. Z)")


def _number(value: float, schema: Schema, path: str) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        raise ValidationError(path, f"at least {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise ValidationError(path, f"at most {schema['maximum']}")


def _array(value: list[Any], schema: Schema, path: str) -> list[Any]:
    if len(value) < schema.get("minItems", 0):
        raise ValidationError(path, f"at least {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise ValidationError(path, f"at most {schema['maxItems']} items")
    items = schema.get("items")
    out = [validate(v, items, f"{path}[{i}]") for i, v in enumerate(value)] if items else value
    if schema.get("uniqueItems") and len({repr(v) for v in out}) != len(out):
        raise ValidationError(path, "items must be unique")
    return out


def _object(value: dict[str, Any], schema: Schema, path: str) -> dict[str, Any]:
    props: dict[str, Schema] = schema.get("properties", {})
    prefix = "" if path in ("body", "query") else f"{path}."
    for name in schema.get("required", ()):
        if name not in value:
            raise ValidationError(f"{prefix}{name}", "required")
    if schema.get("additionalProperties") is False:
        for name in value:
            if name not in props:
                raise ValidationError(f"{prefix}{name}", "unknown field")
    if len(value) < schema.get("minProperties", 0):
        raise ValidationError(path, f"at least {schema['minProperties']} field(s)")
    out = dict(value)
    for name, sub in props.items():
        if name in value:
            out[name] = validate(value[name], sub, f"{prefix}{name}")
        elif "default" in sub:
            out[name] = sub["default"]
    return out


def coerce_query(raw: dict[str, str], schema: Schema) -> dict[str, Any]:
    """Query strings are text: convert each to its documented type, then validate."""
    props: dict[str, Schema] = schema.get("properties", {})
    converted: dict[str, Any] = {}
    for name, text in raw.items():
        sub = props.get(name)
        if sub is None:
            raise ValidationError(name, "unknown query parameter")
        converted[name] = _convert(text, sub, name)
    return validate(converted, {**schema, "type": "object"}, "query")  # type: ignore[no-any-return]


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
