"""OTA jobs without I/O: what each job sends, how a PoR maps to an outcome, the state machine.

A job is one thing the gateway wants done on one card over the air (空中发卡, 空中充值, app
deletion, lock / unlock after a loss report, STK menu update). It is a list of :class:`Op`, each
one command APDU with a stable key (``install:door``, ``credit``...). An attempt sends the ops not
yet known to be done, as the compact remote script of one SCP80 command packet (ETSI TS 102 226
5.1.1) to the job's TAR, and the PoR's compact remote response (5.1.2: number of commands
executed, the last status word and response data) tells which of them ran:

* the first ``executed - 1`` ops answered a non-error status (the applet stops a script at the
  first error), so they are done;
* the last executed op is done when it answered '9000', or when its error means "already so":
  INSTALL '6985' (already installed), DELETE and SET STATUS '6A88' (not there);
* any other error status of the applet is definitive (purse limit, purse locked...).

Every op is idempotent or made so by that rule, and CREDIT carries its transaction id (the
applet answers a repeated id with the recorded result, ``replayed``), so an attempt whose PoR was
lost is simply sent again, with a new counter: a job converges without ever doing a thing twice.

States (``TRANSITIONS``): ``pending → sent → confirmed``; ``sent → pending`` for another attempt;
``sent | pending → failed`` after a definitive refusal or when attempts run out; a top-up then goes
``failed → reversed`` in the same transaction (the ledger refunds it).
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ota.errors import FormatError, OtaError
from ota.mo_request import MENU_FILE_FID, MENU_FILE_SIZE, MenuFile
from ota.onecard_apdu import (
    TAR_ONECARD,
    TAR_RFM_SIM,
    Credit,
    CreditResult,
    Delete,
    GetStatus,
    Install,
    LifeCycle,
    OneCardCommand,
    Personalise,
    SetStatus,
    SubApp,
    Sw,
    decode_status,
)
from ota.por import PorStatus
from ota.remote import CompactResponse
from ota.spi import CounterMode, Integrity, PorRequest, PorTransport, Spi


class JobKind(enum.StrEnum):
    ISSUE = "issue"  # 空中发卡: INSTALL + PERSONALISE of sub-applications
    TOPUP = "topup"  # 空中充值: CREDIT with a transaction id
    DELETE = "delete"  # delete sub-applications (STK 应用删除, deregistration)
    LOCK = "lock"  # after a loss report (挂失)
    UNLOCK = "unlock"  # after the loss report is cancelled (解挂)
    MENU = "menu"  # rewrite the STK menu file by remote file management


class JobState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    REVERSED = "reversed"  # a failed top-up whose ledger posting was reversed


TRANSITIONS: frozenset[tuple[JobState, JobState]] = frozenset({
    (JobState.PENDING, JobState.SENT),
    (JobState.SENT, JobState.PENDING),  # another attempt (timeout, retryable PoR)
    (JobState.SENT, JobState.CONFIRMED),
    (JobState.PENDING, JobState.CONFIRMED),  # a late PoR of an earlier attempt
    (JobState.SENT, JobState.FAILED),
    (JobState.PENDING, JobState.FAILED),
    (JobState.FAILED, JobState.REVERSED),
})
FINAL_STATES = frozenset({JobState.CONFIRMED, JobState.FAILED, JobState.REVERSED})
OPEN_STATES = frozenset({JobState.PENDING, JobState.SENT})
MONEY_KINDS = frozenset({JobKind.TOPUP})


class JobError(Exception):
    """A job's parameters or a state change that the rules refuse."""


def check_transition(current: JobState, target: JobState) -> None:
    if (current, target) not in TRANSITIONS:
        raise JobError(f"an OTA job cannot go from {current.value} to {target.value}")


# What every command packet asks for (TS 102 225 5.1.1, TS 31.115 4.2): ciphered, CC, counter
# must be higher, PoR always, itself ciphered and CC'd -- the minimum security level the one-card
# applet's TAR demands. The PoR comes back by SMS-SUBMIT: over SMPP the SMS-DELIVER-REPORT of a
# download cannot reach the gateway.
def command_spi(transport: PorTransport = PorTransport.SMS_SUBMIT) -> Spi:
    return Spi(CounterMode.HIGHER, True, Integrity.CC, PorRequest.ALWAYS, Integrity.CC, True,
               transport)


COMMAND_SPI = command_spi()

_APP_NAMES = {"door": SubApp.DOOR, "attendance": SubApp.ATTENDANCE, "purse": SubApp.PURSE}


def sub_app(name: str) -> SubApp:
    try:
        return _APP_NAMES[name]
    except KeyError:
        raise JobError(f"unknown sub-application {name!r}") from None


def app_name(app: SubApp) -> str:
    return next(name for name, value in _APP_NAMES.items() if value is app)


# -- parameters ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppSpec:
    """What PERSONALISE writes into one sub-application (``ota.onecard_apdu.Personalise``)."""

    app: SubApp
    member_number: str
    credential: bytes = field(repr=False)
    purse_limit_fen: int | None = None
    valid_until: datetime.date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"app": app_name(self.app), "member_number": self.member_number,
                "credential": self.credential.hex(), "purse_limit_fen": self.purse_limit_fen,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AppSpec:
        try:
            until = raw.get("valid_until")
            return cls(sub_app(str(raw["app"])), str(raw["member_number"]),
                       bytes.fromhex(str(raw["credential"])), raw.get("purse_limit_fen"),
                       datetime.date.fromisoformat(until) if until else None)
        except (KeyError, ValueError, TypeError) as exc:
            raise JobError(f"app parameters are malformed: {exc!r}") from exc


def issue_params(enterprise_id: int, apps: Sequence[AppSpec]) -> dict[str, Any]:
    return {"enterprise_id": enterprise_id, "apps": [a.to_json() for a in apps]}


def topup_params(amount_fen: int, transaction_id: bytes) -> dict[str, Any]:
    return {"amount_fen": amount_fen, "transaction_id": transaction_id.hex()}


def apps_params(apps: Sequence[SubApp]) -> dict[str, Any]:
    return {"apps": [app_name(a) for a in apps]}


def menu_params(menu: MenuFile) -> dict[str, Any]:
    return {"title": menu.title, "items": list(menu.items),
            "service_number": menu.service_number}


# -- ops -----------------------------------------------------------------------------------


class OpKind(enum.Enum):
    INSTALL = "install"
    PERSONALISE = "personalise"
    LOCK = "lock"
    UNLOCK = "unlock"
    DELETE = "delete"
    GET_STATUS = "status"
    CREDIT = "credit"
    SELECT = "select"  # remote file management (TS 102 226 clause 7), T=0 TPDUs
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class Op:
    key: str
    kind: OpKind
    apdu: bytes
    app: SubApp | None = None
    # A verification op runs at the end of every attempt and is never "done" by itself.
    verify: bool = False


def _op(kind: OpKind, command: OneCardCommand, app: SubApp | None = None,
        verify: bool = False) -> Op:
    suffix = f":{app_name(app)}" if app is not None else ""
    return Op(f"{kind.value}{suffix}", kind, command.apdu().encode(), app, verify)


def _menu_ops(params: Mapping[str, Any]) -> list[Op]:
    """SELECT MF, SELECT EF '2F50', two UPDATE BINARY halves (a TPDU carries 255 octets)."""
    try:
        menu = MenuFile(str(params["title"]), tuple(str(i) for i in params["items"]),
                        str(params["service_number"]))
        content = menu.encode()
    except (KeyError, TypeError, FormatError) as exc:
        raise JobError(f"menu parameters are malformed: {exc!r}") from exc
    half = MENU_FILE_SIZE // 2
    ops = [Op("select:mf", OpKind.SELECT, bytes.fromhex("00a4000c023f00")),
           Op("select:menu", OpKind.SELECT,
              bytes.fromhex("00a4000c02") + MENU_FILE_FID.to_bytes(2, "big"))]
    for index, offset in enumerate((0, half)):
        ops.append(Op(f"update:{index}", OpKind.UPDATE,
                      bytes((0x00, 0xD6, offset >> 8, offset & 0xFF, half))
                      + content[offset:offset + half]))
    return ops


def job_ops(kind: JobKind, params: Mapping[str, Any]) -> tuple[Op, ...]:
    """Every op of a job, in order (verification ops included)."""
    try:
        if kind is JobKind.TOPUP:
            return (_op(OpKind.CREDIT, Credit(int(params["amount_fen"]),
                                              bytes.fromhex(params["transaction_id"]))),)
        if kind is JobKind.ISSUE:
            ops: list[Op] = []
            for raw in params["apps"]:
                spec = AppSpec.from_json(raw)
                ops.append(_op(OpKind.INSTALL, Install(spec.app, int(params["enterprise_id"])),
                               spec.app))
                ops.append(_op(OpKind.PERSONALISE, Personalise(
                    spec.app, spec.member_number, spec.credential, spec.purse_limit_fen,
                    spec.valid_until), spec.app))
            return (*ops, _op(OpKind.GET_STATUS, GetStatus(), verify=True))
        if kind is JobKind.MENU:
            return tuple(_menu_ops(params))
        apps = [sub_app(str(name)) for name in params["apps"]]
    except (KeyError, ValueError, TypeError, OtaError) as exc:
        raise JobError(f"{kind.value} job parameters are malformed: {exc!r}") from exc
    if kind is JobKind.DELETE:
        return tuple(_op(OpKind.DELETE, Delete(app), app) for app in apps)
    locked = kind is JobKind.LOCK
    return tuple(_op(OpKind.LOCK if locked else OpKind.UNLOCK, SetStatus(app, locked), app)
                 for app in apps)


def tar_of(kind: JobKind) -> bytes:
    return TAR_RFM_SIM if kind is JobKind.MENU else TAR_ONECARD


@dataclass(frozen=True, slots=True)
class Script:
    """The ops of one attempt and the secured data that carries them."""

    tar: bytes
    ops: tuple[Op, ...]

    @property
    def data(self) -> bytes:
        return b"".join(op.apdu for op in self.ops)

    @property
    def keys(self) -> list[str]:
        return [op.key for op in self.ops]


def next_script(kind: JobKind, params: Mapping[str, Any], done: Sequence[str]) -> Script:
    """What the next attempt sends: the ops not done yet, then the verification ops."""
    finished = set(done)
    ops = tuple(op for op in job_ops(kind, params) if op.verify or op.key not in finished)
    return Script(tar_of(kind), ops)


def script_of(kind: JobKind, params: Mapping[str, Any], keys: Sequence[str]) -> Script:
    """The script an attempt sent, from the op keys recorded with it."""
    by_key = {op.key: op for op in job_ops(kind, params)}
    try:
        return Script(tar_of(kind), tuple(by_key[k] for k in keys))
    except KeyError as exc:
        raise JobError(f"attempt names an op the job does not have: {exc}") from None


# -- PoR → outcome -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PorReport:
    """A verified PoR, reduced to what the outcome depends on."""

    status: int
    secured: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class Done:
    """Every op is done; ``result`` is what the card reported (balance, app states)."""

    done: tuple[str, ...]
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Progress:
    """Some ops are done, others remain: send the rest at once."""

    done: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Retry:
    """Nothing can be concluded; send again after a pause."""

    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    """PoR status 'more time' (08): a later PoR follows; the deadline moves."""


@dataclass(frozen=True, slots=True)
class Fail:
    """A definitive refusal: sending again would be refused again."""

    reason: str
    done: tuple[str, ...] = ()


Outcome = Done | Progress | Retry | Wait | Fail

# Statuses after which the same command may succeed: counter out of step with the card (another
# packet overtook this one, the card's counter moved), memory full for the moment.
RETRYABLE_STATUSES = frozenset({PorStatus.CNTR_LOW, PorStatus.CNTR_HIGH,
                                PorStatus.INSUFFICIENT_MEMORY})
# Applet statuses after which the card is, for this op, already where the job wants it.
_ALREADY = {(OpKind.INSTALL, Sw.CONDITIONS_NOT_SATISFIED), (OpKind.DELETE, Sw.NOT_FOUND),
            (OpKind.LOCK, Sw.NOT_FOUND), (OpKind.UNLOCK, Sw.NOT_FOUND)}
# Status words that let a script go on (TS 102 226 5.1.1; ISO 7816-4 normal processing and
# warnings): an RFM SELECT answers '61xx'.
_CONTINUE_SW1 = frozenset({0x90, 0x91, 0x92, 0x61, 0x9F, 0x62, 0x63})


def sw_name(sw: int) -> str:
    try:
        return f"{Sw(sw).name} ({sw:04X})"
    except ValueError:
        return f"{sw:04X}"


def interpret(kind: JobKind, script: Script, done: Sequence[str], por: PorReport) -> Outcome:
    """What a PoR for ``script`` means for the job (``done``: ops done before it)."""
    if por.status == PorStatus.MORE_TIME:
        return Wait()
    if por.status != PorStatus.POR_OK:
        name = _status_name(por.status)
        if por.status in RETRYABLE_STATUSES or not por.secured:
            # An unsecured error PoR may be forged: it can make us retry, never give up.
            return Retry(f"card answered {name}")
        return Fail(f"card refused the packet: {name}")
    try:
        response = CompactResponse.decode(por.data)
    except OtaError:
        return Retry("PoR OK without a compact remote response")
    return _apply_response(kind, script, list(done), response)


def _status_name(status: int) -> str:
    try:
        return PorStatus(status).name
    except ValueError:
        return f"status {status:#04x}"


def _apply_response(kind: JobKind, script: Script, done: list[str],
                    response: CompactResponse) -> Outcome:
    executed = min(response.executed, len(script.ops))
    if executed == 0:
        return Retry(f"no command executed ({sw_name(response.last_sw)})")
    for op in script.ops[:executed - 1]:
        _mark(done, op)
    last = script.ops[executed - 1]
    sw = response.last_sw
    if sw >> 8 in _CONTINUE_SW1 or (last.kind, sw) in _ALREADY:
        _mark(done, last)
    else:
        return Fail(f"{last.key} refused: {sw_name(sw)}", tuple(done))
    completed = executed == len(script.ops) and sw >> 8 in _CONTINUE_SW1
    if kind is JobKind.TOPUP:
        if not completed:
            return Progress(tuple(done), "credit not confirmed")
        try:
            credit = CreditResult.decode(response.last_data)
        except OtaError as exc:
            return Retry(f"CREDIT response unreadable: {exc.detail}")
        return Done(tuple(done), {"balance_fen": credit.balance_fen,
                                  "load_counter": credit.load_counter,
                                  "replayed": credit.replayed})
    if kind is JobKind.ISSUE:
        return _issue_outcome(script, done, response, completed)
    if all(op.key in done for op in script.ops if not op.verify):
        return Done(tuple(done), {})
    return Progress(tuple(done), "some commands still to send")


def _mark(done: list[str], op: Op) -> None:
    if not op.verify and op.key not in done:
        done.append(op.key)


def _issue_outcome(script: Script, done: list[str], response: CompactResponse,
                   completed: bool) -> Outcome:
    if not completed:
        return Progress(tuple(done), "issuance continues")
    try:
        entries = {e.app: e.life_cycle for e in decode_status(response.last_data)}
    except OtaError as exc:
        return Retry(f"GET STATUS response unreadable: {exc.detail}")
    wanted = {op.app for op in script.ops if op.kind is OpKind.PERSONALISE and op.app}
    wanted |= {sub_app(key.split(":", 1)[1]) for key in done if key.startswith("personalise:")}
    missing = [app_name(a) for a in wanted if entries.get(a) is not LifeCycle.PERSONALISED]
    if missing:
        return Fail(f"card does not show {', '.join(sorted(missing))} personalised", tuple(done))
    return Done(tuple(done), {"apps": {app_name(a): s.name.lower() for a, s in entries.items()}})


# -- the state machine ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """Timeouts and retry bounds (seconds)."""

    max_attempts: int = 5
    por_timeout: float = 30.0
    backoff: float = 2.0
    backoff_max: float = 60.0

    def pause(self, attempts: int) -> float:
        return float(min(self.backoff * 2.0 ** max(attempts - 1, 0), self.backoff_max))


@dataclass(frozen=True, slots=True)
class Decision:
    """The job's next state; ``not_before`` is the next send (pending) or PoR deadline."""

    state: JobState
    not_before: datetime.datetime | None = None
    done: tuple[str, ...] | None = None
    result: dict[str, Any] | None = None
    failure: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def _after(now: datetime.datetime, seconds: float) -> datetime.datetime:
    return now + datetime.timedelta(seconds=seconds)


def decide(outcome: Outcome, attempts: int, policy: Policy,
           now: datetime.datetime) -> Decision:
    """The job's next state after a PoR of attempt number ``attempts``."""
    if isinstance(outcome, Done):
        return Decision(JobState.CONFIRMED, done=outcome.done, result=outcome.result)
    if isinstance(outcome, Fail):
        return Decision(JobState.FAILED, done=outcome.done or None, failure=outcome.reason)
    if isinstance(outcome, Wait):
        return Decision(JobState.SENT, _after(now, policy.por_timeout))
    if attempts >= policy.max_attempts:
        done = outcome.done if isinstance(outcome, Progress) else None
        return Decision(JobState.FAILED, done=done,
                        failure=f"gave up after {attempts} attempts: {outcome.reason}")
    if isinstance(outcome, Progress):
        return Decision(JobState.PENDING, now, done=outcome.done)
    return Decision(JobState.PENDING, _after(now, policy.pause(attempts)))


def on_timeout(attempts: int, policy: Policy, now: datetime.datetime) -> Decision:
    """No PoR before the deadline: send again (a new counter), or give up."""
    if attempts >= policy.max_attempts:
        return Decision(JobState.FAILED,
                        failure=f"no proof of receipt after {attempts} attempts")
    return Decision(JobState.PENDING, _after(now, policy.pause(attempts)))


def final_state(kind: JobKind, decision: Decision) -> JobState:
    """Where a failed job ends: a top-up goes on to ``reversed`` (its ledger refund)."""
    if decision.state is JobState.FAILED and kind in MONEY_KINDS:
        return JobState.REVERSED
    return decision.state
