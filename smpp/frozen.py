"""A faster ``__init__`` for the frozen, slotted dataclasses built once per PDU.

Why: a frozen dataclass's generated ``__init__`` stores each field through
``object.__setattr__`` (the class's own ``__setattr__`` raises), which costs ~0.4 us a field;
a deliver_sm has 32 fields and the ESME builds several such objects per message, thousands of
times a second (bench/smpp.py). Storing through the slot descriptors instead halves that.

The replacement keeps the dataclass's keyword-only signature, defaults and ``__post_init__``;
instances stay frozen (assignment still raises ``FrozenInstanceError``). Only classes whose
fields are plain (no default_factory, all in __init__) qualify; others are refused at import.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Class decorator; apply it above ``@dataclass(frozen=True, slots=True)``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    namespace: dict[str, Any] = {}
    positional: list[str] = []
    keyword: list[str] = []
    lines: list[str] = []
    for field in fields:
        if field.default_factory is not dataclasses.MISSING or not field.init:
            raise TypeError(f"{cls.__name__}.{field.name}: only plain fields are supported")
        param = field.name
        if field.default is not dataclasses.MISSING:
            namespace[f"_d_{field.name}"] = field.default
            param += f"=_d_{field.name}"
        (keyword if field.kw_only else positional).append(param)
        namespace[f"_s_{field.name}"] = getattr(cls, field.name).__set__
        lines.append(f"    _s_{field.name}(self, {field.name})")
    if hasattr(cls, "__post_init__"):
        lines.append("    self.__post_init__()")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n" + "\n".join(lines or ["    pass"]) + "\n"
    exec(source, namespace)  # the same technique dataclasses uses to build __init__
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)  # noqa: B010  (mypy refuses a method assignment)
    return cls
