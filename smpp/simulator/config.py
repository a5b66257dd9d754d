"""Configuration of the SMSC simulator: accounts, static routes, receipts and fault knobs."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from smpp.pdus import MessageState


class Unrouted(enum.Enum):
    """What happens to a message whose destination no bind or route serves.

    DELIVER plays the radio network: the message counts as delivered to a handset after
    ``receipt_delay`` (what the gateway needs when no handset emulator runs). STORE keeps it
    until a bind for the destination appears or its validity ends (store-and-forward).
    REJECT refuses the submit_sm with ESME_RINVDSTADR.
    """

    DELIVER = "deliver"
    STORE = "store"
    REJECT = "reject"


class IdStyle(enum.Enum):
    """How the simulator writes message_ids, to exercise ESME-side normalisation."""

    HEX = "hex"  # "0000002A": upper case, zero padded
    DECIMAL = "dec"  # "42"
    DECIMAL_PADDED = "dec10"  # "0000000042"
    UUID = "uuid"


@dataclass(frozen=True, slots=True)
class User:
    system_id: str
    password: str

    @classmethod
    def parse(cls, spec: str) -> User:
        """``NAME:PASSWORD`` as given to ``onecard smsc --user``."""
        name, sep, password = spec.partition(":")
        if not sep or not name:
            raise ValueError(f"--user expects NAME:PASSWORD, got {spec!r}")
        if len(name) > 15 or len(password) > 8:
            raise ValueError("system_id holds 15 characters and password 8 (SMPP v3.4 4.1.1)")
        return cls(name, password)


@dataclass(frozen=True, slots=True)
class Route:
    """Messages whose destination matches ``pattern`` go to binds of ``system_id``."""

    pattern: re.Pattern[str]
    system_id: str

    @classmethod
    def parse(cls, spec: str) -> Route:
        """``REGEX=SYSTEM_ID``; the regex is matched at the start of the destination."""
        pattern, sep, system_id = spec.rpartition("=")
        if not sep or not pattern or not system_id:
            raise ValueError(f"--route expects REGEX=SYSTEM_ID, got {spec!r}")
        return cls(re.compile(pattern), system_id)


@dataclass(slots=True)
class Faults:
    """Knobs for fault tests; a test may change them while the simulator runs.

    Counts are per connection, so that a reconnecting ESME meets the same behaviour again.
    """

    throttle_every: int = 0  # every Nth submit_sm answered ESME_RTHROTTLED
    queue_full_every: int = 0  # every Nth submit_sm answered ESME_RMSGQFUL
    response_delay: float = 0.0  # seconds before each submit_sm_resp (a slow SMSC)
    drop_after: int = 0  # close the connection after it carried N PDUs from the ESME
    unbind_after: int = 0  # send unbind after N submit_sm on a connection
    silent_enquire_link: bool = False  # never answer enquire_link
    early_receipts: bool = False  # send the receipt before the submit_sm_resp, same write


@dataclass(frozen=True, slots=True)
class SmscConfig:
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = "ONECARD-SIM"  # what bind_resp names us
    users: tuple[User, ...] = ()  # empty: any system_id and password bind (open)
    routes: tuple[Route, ...] = ()
    unrouted: Unrouted = Unrouted.STORE
    id_style: IdStyle = IdStyle.HEX
    receipt_id_style: IdStyle | None = None  # id: in the receipt text; None: as message_id
    receipt_delay: float = 0.0  # simulated handset delivery (Unrouted.DELIVER)
    receipt_state: MessageState = MessageState.DELIVERED  # outcome of simulated delivery
    undeliverable: re.Pattern[str] | None = None  # destinations that end UNDELIV
    default_validity: float = 24 * 3600.0
    retry_interval: float = 5.0  # store-and-forward: next delivery attempt
    deliver_window: int = 10  # outstanding deliver_sm per bind
    response_timeout: float = 10.0  # for deliver_sm_resp
    enquire_link_interval: float = 30.0
    receipt_tlvs: bool = True  # receipted_message_id and message_state in receipts
    max_log: int = 10_000  # whole messages kept in Smsc.messages
    faults: Faults = field(default_factory=Faults)

    def check(self, system_id: str, password: str) -> bool | None:
        """True: account and password match; False: bad password; None: unknown account."""
        if not self.users:
            return True
        for user in self.users:
            if user.system_id == system_id:
                return user.password == password
        return None
