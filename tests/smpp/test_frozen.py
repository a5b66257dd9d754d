"""smpp.frozen: the slot-descriptor __init__ behaves like the dataclass one."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from smpp.frozen import fast_init
from smpp.pdus import PDU_CLASSES, DeliverSm, ErrorResp


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 2
    label: str = dataclasses.field(default="p", kw_only=True)


def test_signature_defaults_and_frozenness() -> None:
    assert Point(1) == Point(1, 2, label="p")
    assert str(inspect.signature(Point)) == "(x, y=2, *, label='p')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).x = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_every_pdu_class_still_constructs_with_its_defaults() -> None:
    for cls in PDU_CLASSES.values():
        assert cls() == dataclasses.replace(cls())
    assert DeliverSm(sequence=3, message_state=2).message_state == 2


def test_post_init_still_runs() -> None:
    with pytest.raises(ValueError):
        ErrorResp(response_id=4)


def test_refuses_what_it_cannot_copy() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError):
        fast_init(WithFactory)

    @dataclasses.dataclass
    class Mutable:
        x: int = 0

    with pytest.raises(TypeError):
        fast_init(Mutable)
