"""Errors of bills and notices. They are gateway errors (HTTP status and JSON code on the class)
so that ``gateway.middleware`` renders them like any other.

```
BillsError (422 bills_invalid)
├── PeriodInvalid (422 period_invalid)
├── ShiftRulesInvalid (422 shift_rules_invalid, names the field)
├── TemplateInvalid (422 template_invalid: syntax or rendering, with the line)
├── TooManySegments (422 too_many_segments: the count and the limit)
└── NoticeInvalid (422 notice_invalid: the file as a whole: encoding, header, size)
```
"""

from __future__ import annotations

from typing import Any

from gateway.errors import GatewayError


class BillsError(GatewayError):
    http_status = 422
    code = "bills_invalid"


class PeriodInvalid(BillsError):
    code = "period_invalid"

    def __init__(self, text: str, detail: str) -> None:
        super().__init__(f"period {text!r}: {detail}", field="period")


class ShiftRulesInvalid(BillsError):
    code = "shift_rules_invalid"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"shift_rules.{field}: {detail}", field=f"shift_rules.{field}")


class TemplateInvalid(BillsError):
    code = "template_invalid"

    def __init__(self, detail: str, line: int | None = None, **extra: Any) -> None:
        where = f" (line {line})" if line else ""
        super().__init__(f"template{where}: {detail}", line=line, **extra)

    @classmethod
    def relayed(cls, detail: str) -> TemplateInvalid:
        """The error as another process raised it, ``detail`` as it was there."""
        error = cls.__new__(cls)
        GatewayError.__init__(error, detail)
        return error


class TooManySegments(BillsError):
    """A text longer than the enterprise allows: refused with its count, never truncated."""

    code = "too_many_segments"

    def __init__(self, segments: int, limit: int, chars: int) -> None:
        super().__init__(
            f"the text is {segments} SMS segments ({chars} characters); at most {limit} allowed",
            segments=segments, limit=limit, chars=chars)
        self.segments = segments
        self.limit = limit


class NoticeInvalid(BillsError):
    code = "notice_invalid"
