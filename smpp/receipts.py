"""Delivery receipts: the text format, message_id normalisation, and per-message part tracking.

The receipt text is SMPP v3.4 appendix B ("id:IIIIIIIIII sub:SSS dlvrd:DDD submit
date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:..."); the appendix calls it
vendor specific, so the parser is lenient about case, spacing, seconds in the dates and the
order of fields. The receipted_message_id (5.3.2.12) and message_state (5.3.2.35) TLVs are
preferred when present because they are not free text.

SMSCs write one message_id in different ways: hex in submit_sm_resp and decimal in the receipt
text, with or without leading zeros, upper or lower case. :class:`IdPolicy` says per SMSC how
each place writes it, and :func:`normalise_message_id` maps every spelling to one key.

:class:`ReceiptTracker` correlates receipts with the parts of the messages we sent. A receipt
can arrive before we processed the submit_sm_resp that tells us its id (same TCP read, or an
SMSC that sends early): it waits in an orphan buffer with a time to live. Sans-I/O: every method
that needs the time takes ``now``.
"""

from __future__ import annotations

import enum
import functools
import re
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

from smpp.errors import InvalidField
from smpp.frozen import fast_init
from smpp.pdus import DeliverSm, MessageState
from smpp.status import CommandStatus


class IdFormat(enum.Enum):
    """How an SMSC writes message ids in one place."""

    HEX = "hex"  # "1A2B3C", "001a2b3c": a number in base 16
    DECIMAL = "dec"  # "1715004", "0001715004": a number in base 10
    TEXT = "text"  # anything else (UUIDs...): compared without case


def normalise_message_id(raw: str, fmt: IdFormat) -> str:
    """One key per message: numbers as their decimal value, text stripped and lower-cased.

    A numeric format that does not parse falls back to text, so a misconfigured SMSC still
    correlates whenever both places spell the id the same way.
    """
    value = raw.strip()
    try:
        if fmt is IdFormat.HEX:
            return str(int(value, 16))
        if fmt is IdFormat.DECIMAL and value.isdigit():
            return str(int(value))
    except ValueError:
        pass
    return value.lower()


@dataclass(frozen=True, slots=True)
class IdPolicy:
    """Per SMSC: the format of the id in submit_sm_resp, in the receipt TLV and in its text.

    ``None`` means "as in submit_sm_resp".
    """

    response: IdFormat = IdFormat.TEXT
    receipt_tlv: IdFormat | None = None
    receipt_text: IdFormat | None = None

    def from_response(self, raw: str) -> str:
        return normalise_message_id(raw, self.response)

    def from_tlv(self, raw: str) -> str:
        return normalise_message_id(raw, self.receipt_tlv or self.response)

    def from_text(self, raw: str) -> str:
        return normalise_message_id(raw, self.receipt_text or self.response)


# --- the receipt text (appendix B) ----------------------------------------------------------

_KEY = re.compile(r"\b(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:", re.IGNORECASE)


@fast_init
@dataclass(frozen=True, slots=True)
class ReceiptText:
    """The fields of a receipt's short_message; absent fields are empty / None."""

    message_id: str = ""
    submitted: int | None = None
    delivered: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    stat: str = ""
    err: str = ""
    text: str = ""


# The layout of appendix B as most SMSCs write it; one match reads it all. Anything else
# (fields missing, reordered, extra words) goes through the field-by-field scanner below.
_CANONICAL = re.compile(
    r"id:(\S*) sub:(\d*) dlvrd:(\d*) submit date:(\d*) done date:(\d*) stat:(\S*) err:(\S*)"
    r"(?: text:(.*))?\Z",
    re.IGNORECASE | re.DOTALL,
)


def parse_receipt_text(data: bytes) -> ReceiptText:
    """Read an appendix B receipt; never raises (a missing field stays empty)."""
    text = data.decode("latin-1")
    match = _CANONICAL.match(text)
    if match is not None:
        message_id, sub, dlvrd, submit, done, stat, err, body = match.groups()
        return ReceiptText(
            message_id,
            _number(sub),
            _number(dlvrd),
            _date(submit),
            _date(done),
            stat,
            err,
            (body or "").strip(),
        )
    found = _scan(text)
    return ReceiptText(
        message_id=found.get("id", ""),
        submitted=_number(found.get("sub")),
        delivered=_number(found.get("dlvrd")),
        submit_date=_date(found.get("submit date")),
        done_date=_date(found.get("done date")),
        stat=found.get("stat", ""),
        err=found.get("err", ""),
        text=found.get("text", ""),
    )


def _scan(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for i, match in enumerate(matches):
        key = match.group(1).lower()
        end = len(text) if key == "text" or i + 1 == len(matches) else matches[i + 1].start()
        found.setdefault(key, text[match.end() : end].strip())
        if key == "text":
            break
    return found


def format_receipt_text(
    message_id: str,
    state: MessageState,
    submit_date: datetime,
    done_date: datetime,
    *,
    err: int = 0,
    submitted: int = 1,
    delivered: int | None = None,
    text: str = "",
) -> bytes:
    """An appendix B receipt. ``text`` (the first 20 characters of the message in the spec) is
    empty by default: receipts travel through logs and queues, message text should not."""
    if delivered is None:
        delivered = submitted if state is MessageState.DELIVERED else 0
    return (
        f"id:{message_id} sub:{submitted:03d} dlvrd:{delivered:03d} "
        f"submit date:{_minutes(submit_date)} done date:{_minutes(done_date)} "
        f"stat:{state.stat} err:{err:03d} text:{text[:20]}"
    ).encode("latin-1", "replace")


def _minutes(moment: datetime) -> str:
    """YYMMDDhhmm; by hand because strftime costs more than the rest of a receipt."""
    m = moment
    return f"{m.year % 100:02d}{m.month:02d}{m.day:02d}{m.hour:02d}{m.minute:02d}"


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@functools.lru_cache(maxsize=1024)  # receipts of one minute share their dates
def _date(value: str | None) -> datetime | None:
    """YYMMDDhhmm or YYMMDDhhmmss (appendix B), read by hand: strptime is ~20 us a call."""
    if value is None or len(value) not in (10, 12) or not value.isdigit():
        return None
    try:
        return datetime(
            2000 + int(value[0:2]),
            int(value[2:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12] or 0),
        )
    except ValueError:
        return None


# --- a receipt as the gateway sees it -------------------------------------------------------


class ReceiptError(InvalidField):
    """A deliver_sm marked as receipt that names no message."""

    # The receipt cannot be processed, now or on retry: a permanent application error.
    command_status = CommandStatus.ESME_RX_P_APPN


@fast_init
@dataclass(frozen=True, slots=True)
class Receipt:
    """One delivery receipt, correlated by ``message_id`` (normalised, see :class:`IdPolicy`).

    ``source`` is the handset the message went to (a receipt travels back, so its source_addr
    is the original destination); ``error`` is the receipt's error code (the err: field or the
    network_error_code TLV), 0 when none was given.
    """

    message_id: str
    raw_message_id: str
    state: MessageState
    error: int
    submitted_at: datetime | None
    done_at: datetime | None
    source: str
    destination: str
    network_error_code: bytes | None = None

    @property
    def delivered(self) -> bool:
        return self.state is MessageState.DELIVERED


def receipt_from_pdu(pdu: DeliverSm, policy: IdPolicy) -> Receipt:
    """The receipt carried by a deliver_sm with esm_class "SMSC delivery receipt" (5.2.12)."""
    body = parse_receipt_text(pdu.user_data)
    if pdu.receipted_message_id:
        raw, message_id = pdu.receipted_message_id, policy.from_tlv(pdu.receipted_message_id)
    elif body.message_id:
        raw, message_id = body.message_id, policy.from_text(body.message_id)
    else:
        raise ReceiptError("receipt names no message: no receipted_message_id and no id: field")
    if pdu.message_state is not None and pdu.message_state in MessageState._value2member_map_:
        state = MessageState(pdu.message_state)
    else:
        state = MessageState.from_stat(body.stat)
    error = _number(body.err) or 0
    if pdu.network_error_code and not error:
        error = int.from_bytes(pdu.network_error_code[1:], "big")  # type octet, then the code
    return Receipt(
        message_id=message_id,
        raw_message_id=raw,
        state=state,
        error=error,
        submitted_at=body.submit_date,
        done_at=body.done_date,
        source=pdu.source_addr,
        destination=pdu.destination_addr,
        network_error_code=pdu.network_error_code,
    )


# --- correlation ----------------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class MessageOutcome:
    """What became of every part of one message we sent."""

    key: Hashable
    message_ids: tuple[str, ...]
    receipts: tuple[Receipt | None, ...]  # per part; None: no final receipt (expired)

    @property
    def delivered(self) -> bool:
        """A message counts as delivered when all its parts are."""
        return all(r is not None and r.delivered for r in self.receipts)

    @property
    def state(self) -> MessageState:
        """DELIVERED when all parts are, else the state of the first part that is not."""
        for receipt in self.receipts:
            if receipt is None:
                return MessageState.UNKNOWN
            if not receipt.delivered:
                return receipt.state
        return MessageState.DELIVERED


@dataclass(slots=True)
class _Tracked:
    key: Hashable
    total: int
    created: float
    ids: dict[int, str] = field(default_factory=dict)  # part index (1-based) -> message_id
    final: dict[int, Receipt] = field(default_factory=dict)

    def outcome(self) -> MessageOutcome:
        parts = range(1, self.total + 1)
        return MessageOutcome(
            self.key,
            tuple(self.ids.get(i, "") for i in parts),
            tuple(self.final.get(i) for i in parts),
        )


class ReceiptTracker:
    """Matches receipts to message parts; completes a message when every part has a final
    receipt. Unknown ids wait ``orphan_ttl`` seconds for their submit_sm_resp."""

    def __init__(
        self,
        *,
        orphan_ttl: float = 60.0,
        message_ttl: float = 48 * 3600.0,
        max_orphans: int = 100_000,
    ) -> None:
        self.orphan_ttl = orphan_ttl
        self.message_ttl = message_ttl
        self.max_orphans = max_orphans
        self._messages: OrderedDict[Hashable, _Tracked] = OrderedDict()
        self._by_id: dict[str, tuple[_Tracked, int]] = {}
        self._orphans: OrderedDict[str, tuple[Receipt, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._messages)

    def knows(self, message_id: str) -> bool:
        return message_id in self._by_id

    @property
    def orphans(self) -> int:
        return len(self._orphans)

    def track(self, key: Hashable, total: int, now: float) -> None:
        """Start tracking a message of ``total`` parts (before its first submit_sm goes out)."""
        if key in self._messages:
            raise ValueError(f"message {key!r} is already tracked")
        self._messages[key] = _Tracked(key, total, now)

    def forget(self, key: Hashable) -> None:
        tracked = self._messages.pop(key, None)
        if tracked is not None:
            for message_id in tracked.ids.values():
                self._by_id.pop(message_id, None)

    def part_accepted(
        self, key: Hashable, index: int, message_id: str, now: float
    ) -> MessageOutcome | None:
        """Record the id the SMSC gave part ``index``; an orphan receipt for it applies now."""
        tracked = self._messages.get(key)
        if tracked is None:
            return None
        tracked.ids[index] = message_id
        self._by_id[message_id] = (tracked, index)
        orphan = self._orphans.pop(message_id, None)
        if orphan is None:
            return None
        return self._apply(tracked, index, orphan[0])

    def receipt(self, receipt: Receipt, now: float) -> tuple[bool, MessageOutcome | None]:
        """(matched, outcome): outcome is set when this receipt completes its message.

        An unmatched receipt is kept as an orphan until its id shows up or its TTL passes.
        """
        entry = self._by_id.get(receipt.message_id)
        if entry is None:
            self._orphans[receipt.message_id] = (receipt, now)
            self._orphans.move_to_end(receipt.message_id)
            while len(self._orphans) > self.max_orphans:
                self._orphans.popitem(last=False)
            return False, None
        tracked, index = entry
        return True, self._apply(tracked, index, receipt)

    def _apply(self, tracked: _Tracked, index: int, receipt: Receipt) -> MessageOutcome | None:
        if not receipt.state.is_final:
            return None  # intermediate notification (ENROUTE / ACCEPTD)
        tracked.final[index] = receipt
        if len(tracked.final) < tracked.total:
            return None
        self.forget(tracked.key)
        return tracked.outcome()

    def expire(self, now: float) -> tuple[list[MessageOutcome], list[Receipt]]:
        """Drop messages past ``message_ttl`` (their outcome lacks the missing receipts) and
        orphans past ``orphan_ttl``; both are returned so the caller can account for them."""
        outcomes: list[MessageOutcome] = []
        while self._messages:
            tracked = next(iter(self._messages.values()))
            if now - tracked.created < self.message_ttl:
                break
            self.forget(tracked.key)
            outcomes.append(tracked.outcome())
        orphans: list[Receipt] = []
        while self._orphans:
            message_id, (receipt, since) = next(iter(self._orphans.items()))
            if now - since < self.orphan_ttl:
                break
            del self._orphans[message_id]
            orphans.append(receipt)
        return outcomes, orphans
