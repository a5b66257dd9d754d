"""Base class and per-container registry of the simple TLV data objects (TS 102 223 clause 8).

A data object class names its tag in its header and, when its meaning holds only in some
containers, those containers::

    class TextString(Ie, tag=Tag.TEXT_STRING): ...
    class ImpuList(OctetsIe, tag=Tag.IMPU_LIST, scopes=(BerTag.EVENT_DOWNLOAD,)): ...

Registration happens in ``__init_subclass__``. Lookup takes the container (``Scope``) first
and falls back to the objects valid everywhere, so the same tag value can mean different
objects in different containers (tag '77' of TS 31.111) without any table of exceptions.
Within one container a tag value has at most one class; a second registration is a bug and
fails at import.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

from stk.errors import IeError, MissingIeError, StkError
from stk.tags import BerTag, CommandType, Scope, Tag
from stk.tlv import Ctlv

_ScopeKey = tuple[str, int] | None
_REGISTRY: dict[_ScopeKey, dict[int, type[Ie]]] = {}


def _scope_key(scope: Scope | None) -> _ScopeKey:
    # CommandType and BerTag are both IntEnums; keying by kind keeps their values apart.
    if scope is None:
        return None
    return (type(scope).__name__, int(scope))


class Ie(abc.ABC):
    """A simple TLV data object: a frozen dataclass that encodes and decodes its value part."""

    TAG: ClassVar[Tag]
    NAME: ClassVar[str] = ""
    CLAUSE: ClassVar[str] = ""
    # The vectors (built from TS 102 223 tables) set CR on every simple tag; so do we.
    CR: ClassVar[bool] = True
    SCOPES: ClassVar[tuple[Scope, ...]] = ()
    # (value octets in hex, the object they decode to): checked by one generic test.
    EXAMPLES: ClassVar[tuple[tuple[str, Ie], ...]] = ()

    def __init_subclass__(
        cls, *, tag: Tag | None = None, scopes: Iterable[Scope] = (), **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if tag is None:
            return  # an intermediate base, not a data object of its own
        cls.TAG = tag
        cls.SCOPES = tuple(scopes)
        for key in [_scope_key(s) for s in cls.SCOPES] or [None]:
            table = _REGISTRY.setdefault(key, {})
            if int(tag) in table:
                raise TypeError(
                    f"tag {int(tag):02X} in scope {key} claimed by both "
                    f"{table[int(tag)].__name__} and {cls.__name__}"
                )
            table[int(tag)] = cls

    @property
    def tag(self) -> int:
        return int(self.TAG)

    @property
    def cr(self) -> bool:
        return self.CR

    @abc.abstractmethod
    def encode_value(self) -> bytes:
        """The value part (no tag, no length)."""

    @classmethod
    @abc.abstractmethod
    def decode_value(cls, value: bytes) -> Self:
        """Build the object from its value part; malformed values raise ``IeError``."""

    @abc.abstractmethod
    def summary(self) -> str:
        """One line meaning, for analyser output."""

    @property
    def name(self) -> str:
        return self.NAME

    def to_ctlv(self) -> Ctlv:
        return Ctlv(self.tag, self.encode_value(), self.cr)

    def encode(self) -> bytes:
        return self.to_ctlv().encode()


@dataclass(frozen=True)
class UnknownIe(Ie):
    """A data object this container does not define (or we do not model): kept verbatim."""

    raw_tag: int
    value: bytes
    comprehension_required: bool = True

    @property
    def tag(self) -> int:
        return self.raw_tag

    @property
    def cr(self) -> bool:
        return self.comprehension_required

    @property
    def name(self) -> str:
        try:
            return f"{Tag(self.raw_tag).name.replace('_', ' ').lower()} (not decoded)"
        except ValueError:
            return "unknown data object"

    def encode_value(self) -> bytes:
        return self.value

    @classmethod
    def decode_value(cls, value: bytes) -> Self:
        raise IeError("an unknown data object is built by decode_ie, which knows its tag")

    def summary(self) -> str:
        flag = "comprehension required" if self.comprehension_required else "may be ignored"
        return f"{self.value.hex() or '(empty)'} [{flag}]"


def ie_class_for(tag: int, scope: Scope | None) -> type[Ie] | None:
    """The class of tag value ``tag`` inside ``scope``, or None when nothing claims it there."""
    scoped = _REGISTRY.get(_scope_key(scope), {}).get(tag) if scope is not None else None
    return scoped or _REGISTRY.get(None, {}).get(tag)


def registered_classes() -> dict[int, list[type[Ie]]]:
    """Every registered class by tag value (all scopes): for the tag table coverage test."""
    out: dict[int, list[type[Ie]]] = {}
    for table in _REGISTRY.values():
        for tag, cls in table.items():
            if cls not in out.setdefault(tag, []):
                out[tag].append(cls)
    return out


def scope_of(value: int, *, envelope: bool = False) -> Scope | None:
    """The scope for a type of command (or, with ``envelope``, a BER tag); None if unknown."""
    try:
        return BerTag(value) if envelope else CommandType(value)
    except ValueError:
        return None


def decode_ie(tlv: Ctlv, scope: Scope | None) -> Ie:
    cls = ie_class_for(tlv.tag, scope)
    if cls is None:
        return UnknownIe(tlv.tag, tlv.value, tlv.cr)
    try:
        return cls.decode_value(tlv.value)
    except StkError as exc:  # IeError, TextCodingError: name the object in the message
        raise type(exc)(f"{cls.NAME} ({cls.CLAUSE}): {exc}") from exc


def decode_ies(tlvs: Iterable[Ctlv], scope: Scope | None) -> tuple[Ie, ...]:
    return tuple(decode_ie(t, scope) for t in tlvs)


_I = TypeVar("_I", bound=Ie)


class IeBag:
    """The data objects of one container, taken out by class as a decoder consumes them.

    The order of data objects is not checked: TS 102 223 6.5 lets a receiver accept them in
    any order, and what nobody took is kept (``rest``) so that re-encoding loses nothing.
    """

    def __init__(self, ies: Iterable[Ie]) -> None:
        self._ies = list(ies)

    def take(self, cls: type[_I]) -> _I | None:
        for i, ie in enumerate(self._ies):
            if type(ie) is cls and isinstance(ie, cls):
                del self._ies[i]
                return ie
        return None

    def take_all(self, cls: type[_I]) -> tuple[_I, ...]:
        found = tuple(ie for ie in self._ies if type(ie) is cls and isinstance(ie, cls))
        self._ies = [ie for ie in self._ies if type(ie) is not cls]
        return found

    def require(self, cls: type[_I], context: str) -> _I:
        ie = self.take(cls)
        if ie is None:
            raise MissingIeError(f"{context}: mandatory {cls.NAME} ({cls.CLAUSE}) is missing")
        return ie

    def rest(self) -> tuple[Ie, ...]:
        return tuple(self._ies)


def byte_field(name: str, value: int, low: int = 0, high: int = 0xFF) -> None:
    """Check that an integer field fits its octet(s); encoders rely on this."""
    if not low <= value <= high:
        raise IeError(f"{name} must be {low}..{high}, got {value}")


def label(value: int, enum_type: type[Any]) -> str:
    """'NAME (XX)' for a known enum value, 'XX' otherwise."""
    try:
        return f"{enum_type(value).name.replace('_', ' ').lower()} ({value:02X})"
    except ValueError:
        return f"{value:02X}"


def describe_tlvs(tlvs: Iterable[Ctlv], scope: Scope | None, indent: str = "  ") -> list[str]:
    """Analyser lines, one per data object: tag and length octets, then what they mean."""
    lines = []
    for tlv in tlvs:
        try:
            ie = decode_ie(tlv, scope)
            meaning = f"{ie.name}: {ie.summary()}"
        except StkError as exc:
            meaning = f"malformed: {exc}"
        lines.append(f"{indent}{tlv.header_hex}  {meaning}")
    return lines
