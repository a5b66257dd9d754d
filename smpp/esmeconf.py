"""Configuration, results and counters of the asyncio ESME (``smpp.client``)."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

from smpp.pdus import BindMode
from smpp.receipts import IdPolicy, MessageOutcome


@dataclass(frozen=True, slots=True)
class EsmeConfig:
    """One bind to one SMSC. Times are seconds."""

    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    bind_mode: BindMode = BindMode.TRANSCEIVER
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    # Defaults for what we send: our service number and the numbering of addresses.
    source_addr: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 1  # international (SMPP v3.4 5.2.5)
    dest_addr_npi: int = 1  # ISDN / E.164 (5.2.6)
    window: int = 10  # outstanding submit_sm without a response
    response_timeout: float = 10.0
    max_attempts: int = 3  # sends of one part before ResponseTimeout
    enquire_link_interval: float = 30.0
    connect_timeout: float = 5.0
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    already_bound_delay: float = 5.0  # extra wait after ESME_RALYBND
    throughput: float | None = None  # contracted segments per second; None: unlimited
    throttle_initial: float = 0.2  # pause after the first ESME_RTHROTTLED, doubling
    throttle_max: float = 10.0
    id_policy: IdPolicy = field(default_factory=IdPolicy)
    orphan_ttl: float = 60.0  # how long a receipt waits for its submit_sm_resp
    receipt_ttl: float = 48 * 3600.0  # how long a delivery future waits for receipts
    mo_hold: float = 2.0  # see smpp.mo: responses of MO parts wait for the whole message
    reassembly_ttl: float = 300.0
    ref16: bool = False  # 16-bit concatenation references
    unbind_timeout: float = 5.0
    callback_workers: int = 8  # receipt/MO callbacks running at once

    def __post_init__(self) -> None:
        if min(self.window, self.max_attempts, self.callback_workers) < 1:
            raise ValueError("window, max_attempts and callback_workers must be at least 1")
        if min(self.response_timeout, self.enquire_link_interval, self.connect_timeout) <= 0:
            raise ValueError("timeouts and intervals must be positive")


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The SMSC's message_id of every part, normalised (see :class:`IdPolicy`) and raw.

    ``delivery`` (when asked for) resolves with the :class:`MessageOutcome` once every part
    has a final receipt; it is cancelled if the message fails or the ESME stops first.
    """

    message_ids: tuple[str, ...]
    raw_message_ids: tuple[str, ...]
    delivery: asyncio.Future[MessageOutcome] | None = None


@dataclass(slots=True)
class EsmeMetrics:
    """Live counters of one ESME."""

    submitted: int = 0  # submit_sm PDUs written, resends included
    accepted: int = 0  # submit_sm_resp with ESME_ROK
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)
    throttled: int = 0  # ESME_RTHROTTLED and ESME_RMSGQFUL (the part is resent)
    timeouts: int = 0
    resubmitted: int = 0  # parts sent again (throttle, timeout, reconnect)
    late_responses: int = 0  # responses after their request timed out
    receipts: collections.Counter[str] = field(default_factory=collections.Counter)
    orphan_receipts: int = 0  # receipts that came before their submit_sm_resp
    mo_messages: int = 0
    callback_failures: int = 0
    binds: int = 0
    reconnects: int = 0
    window_in_use: int = 0

    def snapshot(self) -> dict[str, object]:
        return {
            name: dict(value) if isinstance(value, collections.Counter) else value
            for name, value in ((f, getattr(self, f)) for f in self.__dataclass_fields__)
        }
