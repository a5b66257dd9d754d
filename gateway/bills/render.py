"""Bill and notice texts: jinja2 templates per enterprise and kind, run in a sandbox.

A template is the *body* of the SMS. What members receive is::

    【signature】body + opt-out text

The signature is the enterprise's (Chinese carriers require it in every enterprise SMS,
``gateway.services.outbox.signed``); the opt-out text (``回TD退订`` by default) is appended
unless the body already shows it (a template may place ``{{ opt_out }}`` itself). The whole
text is measured with ``smpp.text`` (GSM 7-bit or UCS2, 70/67 characters per segment for
Chinese) and refused when it needs more segments than the enterprise allows
(:class:`TooManySegments`, with the count): a bill is never cut short.

Templates come from the database (an enterprise's own) or, by default, from the package
(``gateway/bills/templates/<kind>.j2``). They run in jinja2's immutable sandbox with undefined
names as errors, so a template cannot reach Python internals, change its data, or print an
empty gap where a field was misspelt. Variables are plain values and dicts (see
``docs/bills.md`` for each kind's variables); ``|yuan`` formats fen as yuan.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gateway.bills.errors import TemplateInvalid, TooManySegments
from gateway.notices import yuan
from smpp.errors import SmppError
from smpp.text import Coding, choose_coding, count_segments

MAX_SOURCE = 4000  # characters of template source
DEFAULT_OPT_OUT = "回TD退订"
DEFAULT_MAX_SEGMENTS = 3
_STOPS = ("。", "！", "？", "；", ".", "!", "?", ";", "\n")


class TemplateKind(enum.StrEnum):
    ATTENDANCE = "attendance"  # 考勤账单
    CONSUMPTION = "consumption"  # 消费账单
    PIECE_RATE = "piece_rate"  # 计件工资 (CSV notice)
    WAGES = "wages"  # 工资条 (CSV notice)
    GENERAL = "general"  # 通知 (CSV notice, free text per member)


BILL_KINDS = (TemplateKind.ATTENDANCE, TemplateKind.CONSUMPTION)
NOTICE_KINDS = (TemplateKind.PIECE_RATE, TemplateKind.WAGES, TemplateKind.GENERAL)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, reading a dict's keys before its attributes.

    jinja2 tries ``getattr`` first, which for ``member.name`` on a dict raises and catches an
    AttributeError on every access; a bill run renders 100,000 texts, so the key goes first
    (a key is plain data we put there; attributes still pass the sandbox's checks).
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _environment() -> _Sandbox:
    env = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=False, cache_size=0)
    env.filters["yuan"] = _yuan
    return env


def _yuan(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateInvalid(f"|yuan takes integer fen, got {type(value).__name__}")
    return yuan(value)


_ENV = _environment()
_GLOBALS = dict(_ENV.globals)


def default_source(kind: TemplateKind) -> str:
    """The template shipped with the package for ``kind``."""
    package = resources.files("gateway.bills") / "templates" / f"{kind.value}.j2"
    return package.read_text(encoding="utf-8").strip()


@dataclass(frozen=True, slots=True)
class TextPolicy:
    """An enterprise's rules for the texts it sends."""

    signature: str
    opt_out_text: str = DEFAULT_OPT_OUT
    max_segments: int = DEFAULT_MAX_SEGMENTS


@dataclass(frozen=True, slots=True)
class Measured:
    text: str
    segments: int
    chars: int
    coding: str  # "gsm7" or "ucs2"

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "segments": self.segments, "chars": self.chars,
                "coding": self.coding}


class Compiled:
    """A compiled template bound to an enterprise's text policy: ``text(context)`` gives the
    final SMS text, ``measure`` also its segment count (refusing too long ones)."""

    def __init__(self, kind: TemplateKind, source: str, policy: TextPolicy) -> None:
        if len(source) > MAX_SOURCE:
            raise TemplateInvalid(f"at most {MAX_SOURCE} characters")
        self.kind = kind
        self.source = source
        self.policy = policy
        try:
            self._template = _ENV.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateInvalid(exc.message or "syntax error", exc.lineno) from exc
        self._prefix = f"【{policy.signature}】" if policy.signature else ""

    def body(self, context: Mapping[str, Any]) -> str:
        # The environment's globals (range, dict...) first, then the data: what
        # ``Template.render`` does, without building the context twice (100,000 renders a run).
        values = dict(_GLOBALS)
        values["opt_out"] = self.policy.opt_out_text
        values.update(context)
        try:
            out = "".join(self._template.root_render_func(
                self._template.new_context(values, shared=True)))
        except TemplateInvalid:
            raise
        except jinja2.UndefinedError as exc:
            raise TemplateInvalid(f"unknown variable: {exc.message}") from exc
        except SecurityError as exc:
            raise TemplateInvalid(f"not allowed in a template: {exc}") from exc
        except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError) as exc:
            raise TemplateInvalid(f"rendering failed: {exc}") from exc
        return "\n".join(line.strip() for line in out.strip().splitlines() if line.strip())

    def text(self, context: Mapping[str, Any]) -> str:
        body = self.body(context)
        opt_out = self.policy.opt_out_text
        if opt_out and opt_out not in body:
            body += opt_out if body.endswith(_STOPS) else _stop(body) + opt_out
        return body if body.startswith(self._prefix) else self._prefix + body

    def measure(self, context: Mapping[str, Any]) -> Measured:
        """The final text and its size; :class:`TooManySegments` past the policy's limit."""
        measured = measure(self.text(context))
        if measured.segments > self.policy.max_segments:
            raise TooManySegments(measured.segments, self.policy.max_segments, measured.chars)
        return measured


def _stop(body: str) -> str:
    # A Chinese full stop would turn a GSM 7-bit text into UCS2 (twice the segments).
    return " " if choose_coding(body) is Coding.GSM7 else "。"


def measure(text: str) -> Measured:
    if not text:
        raise TemplateInvalid("the text is empty")
    try:
        coding = choose_coding(text)
        segments = count_segments(text, coding=coding)
    except SmppError as exc:
        raise TemplateInvalid(f"the text cannot be sent as SMS: {exc}") from exc
    return Measured(text, segments, len(text), "gsm7" if coding is Coding.GSM7 else "ucs2")
