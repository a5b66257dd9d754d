"""gateway.ota_core: what each job sends, how the PoR maps to an outcome, the state machine.

The scripts run against an emulated card in process (``sim_emulator``), so the op shapes and
the outcome rules are checked against the applet's real answers, not against assumptions.
"""

from __future__ import annotations

import datetime

import pytest

from gateway import ota_core as core
from gateway.ota_core import (
    AppSpec,
    Decision,
    Done,
    Fail,
    JobKind,
    JobState,
    Policy,
    PorReport,
    Progress,
    Retry,
    Wait,
)
from ota.mo_request import MENU_FILE_FID, MenuFile
from ota.onecard_apdu import SubApp, split_apdus
from ota.por import PorStatus
from ota.remote import CompactResponse
from ota.spi import PorTransport
from sim_emulator.card import SimCard
from sim_emulator.filesystem import Ef
from sim_emulator.onecard import OneCardApplet
from tests.sim_emulator.helpers import OtaSender, fresh_card

NOW = datetime.datetime(2026, 11, 25, 8, 0, tzinfo=datetime.UTC)
TXN = bytes(range(16))


def spec(app: SubApp, limit: int | None = None) -> AppSpec:
    return AppSpec(app, "1001", b"cred" * 4, limit, datetime.date(2027, 12, 31))


ISSUE = core.issue_params(7, [spec(SubApp.DOOR), spec(SubApp.PURSE, 50_000)])


@pytest.fixture
def card() -> tuple[SimCard, OtaSender]:
    sim, secrets = fresh_card()
    return sim, OtaSender(sim, secrets.ota, spi=core.command_spi(PorTransport.DELIVER_REPORT))


def run(sender: OtaSender, kind: JobKind, params: dict[str, object],
        done: list[str] | tuple[str, ...] = ()) -> tuple[core.Outcome, core.Script]:
    script = core.next_script(kind, params, list(done))
    por = sender.send(script.tar, script.data)
    return core.interpret(kind, script, list(done), PorReport(int(por.status), por.secured,
                                                              por.data)), script


def purse(sim: SimCard) -> OneCardApplet:
    applet = sim.applet_named("onecard")
    assert isinstance(applet, OneCardApplet)
    return applet


def test_issue_ops_and_script_split_back_into_the_same_apdus() -> None:
    ops = core.job_ops(JobKind.ISSUE, ISSUE)
    assert [op.key for op in ops] == ["install:door", "personalise:door", "install:purse",
                                      "personalise:purse", "status"]
    script = core.next_script(JobKind.ISSUE, ISSUE, ["install:door"])
    assert script.keys == ["personalise:door", "install:purse", "personalise:purse", "status"]
    assert [a.encode() for a in split_apdus(script.data)] == [op.apdu for op in script.ops]
    assert core.script_of(JobKind.ISSUE, ISSUE, script.keys) == script


def test_issue_personalises_and_verifies(card: tuple[SimCard, OtaSender]) -> None:
    sim, sender = card
    outcome, _ = run(sender, JobKind.ISSUE, ISSUE)
    assert outcome == Done(("install:door", "personalise:door", "install:purse",
                            "personalise:purse"),
                           {"apps": {"door": "personalised", "purse": "personalised"}})
    assert purse(sim).state.purse.limit == 50_000


def test_issue_over_an_app_already_installed_converges(card: tuple[SimCard, OtaSender]) -> None:
    _, sender = card
    run(sender, JobKind.ISSUE, core.issue_params(7, [spec(SubApp.DOOR)]))
    outcome, _ = run(sender, JobKind.ISSUE, ISSUE)  # door is there: INSTALL answers 6985
    assert isinstance(outcome, Progress) and outcome.done == ("install:door",)
    final, script = run(sender, JobKind.ISSUE, ISSUE, outcome.done)
    assert script.keys[0] == "personalise:door"
    assert isinstance(final, Done)


def test_topup_is_credited_once_whatever_the_retries(card: tuple[SimCard, OtaSender]) -> None:
    sim, sender = card
    run(sender, JobKind.ISSUE, ISSUE)
    params = core.topup_params(1_234, TXN)
    first, _ = run(sender, JobKind.TOPUP, params)
    again, _ = run(sender, JobKind.TOPUP, params)  # the PoR was lost: the same CREDIT again
    assert first == Done(("credit",), {"balance_fen": 1_234, "load_counter": 1,
                                       "replayed": False})
    assert again == Done(("credit",), {"balance_fen": 1_234, "load_counter": 1,
                                       "replayed": True})
    assert purse(sim).state.purse.balance == 1_234


def test_topup_over_the_purse_limit_fails_for_good(card: tuple[SimCard, OtaSender]) -> None:
    _, sender = card
    run(sender, JobKind.ISSUE, ISSUE)
    outcome, _ = run(sender, JobKind.TOPUP, core.topup_params(60_000, TXN))
    assert isinstance(outcome, Fail) and "PURSE_LIMIT_EXCEEDED" in outcome.reason


def test_topup_without_a_purse_fails(card: tuple[SimCard, OtaSender]) -> None:
    _, sender = card
    outcome, _ = run(sender, JobKind.TOPUP, core.topup_params(100, TXN))
    assert isinstance(outcome, Fail) and "NOT_FOUND" in outcome.reason


def test_lock_unlock_and_delete(card: tuple[SimCard, OtaSender]) -> None:
    sim, sender = card
    run(sender, JobKind.ISSUE, ISSUE)
    apps = core.apps_params([SubApp.DOOR, SubApp.PURSE])
    assert isinstance(run(sender, JobKind.LOCK, apps)[0], Done)
    assert purse(sim).state.sub_apps[SubApp.DOOR].locked
    assert isinstance(run(sender, JobKind.LOCK, apps)[0], Done)  # locking twice is harmless
    locked_credit, _ = run(sender, JobKind.TOPUP, core.topup_params(100, TXN))
    assert isinstance(locked_credit, Fail)
    assert isinstance(run(sender, JobKind.UNLOCK, apps)[0], Done)
    assert not purse(sim).state.sub_apps[SubApp.DOOR].locked
    deleted, _ = run(sender, JobKind.DELETE, core.apps_params([SubApp.DOOR]))
    assert deleted == Done(("delete:door",), {})
    again, _ = run(sender, JobKind.DELETE, core.apps_params([SubApp.DOOR]))
    assert isinstance(again, Done)  # '6A88': already gone


def test_lock_skips_an_app_that_is_not_there(card: tuple[SimCard, OtaSender]) -> None:
    _, sender = card
    run(sender, JobKind.ISSUE, core.issue_params(7, [spec(SubApp.PURSE, 10_000)]))
    apps = core.apps_params([SubApp.DOOR, SubApp.PURSE])
    first, _ = run(sender, JobKind.LOCK, apps)
    assert isinstance(first, Progress) and first.done == ("lock:door",)
    assert isinstance(run(sender, JobKind.LOCK, apps, first.done)[0], Done)


def test_menu_update_rewrites_the_menu_file(card: tuple[SimCard, OtaSender]) -> None:
    sim, sender = card
    menu = MenuFile("一卡通", ("余额查询", "应用删除", "账单查询", "帮助"), "10658899")
    outcome, script = run(sender, JobKind.MENU, core.menu_params(menu))
    assert script.tar == bytes.fromhex("b00010")
    assert isinstance(outcome, Done)
    node = sim.state.fs.mf.children[MENU_FILE_FID]
    assert isinstance(node, Ef)
    assert MenuFile.decode(bytes(node.data)) == menu


@pytest.mark.parametrize(("status", "secured", "expected"), [
    (PorStatus.CNTR_LOW, True, Retry),
    (PorStatus.INSUFFICIENT_MEMORY, True, Retry),
    (PorStatus.RC_CC_DS_FAILED, False, Retry),  # unsecured: may be forged, never conclusive
    (PorStatus.INSUFFICIENT_SECURITY_LEVEL, True, Fail),
    (PorStatus.CNTR_BLOCKED, True, Fail),
    (PorStatus.MORE_TIME, True, Wait),
])
def test_por_status_outcomes(status: int, secured: bool, expected: type) -> None:
    script = core.next_script(JobKind.TOPUP, core.topup_params(1, TXN), [])
    assert isinstance(core.interpret(JobKind.TOPUP, script, [], PorReport(status, secured, b"")),
                      expected)


def test_unreadable_responses_retry() -> None:
    script = core.next_script(JobKind.TOPUP, core.topup_params(1, TXN), [])
    ok = PorStatus.POR_OK
    assert isinstance(core.interpret(JobKind.TOPUP, script, [], PorReport(ok, True, b"\x01")),
                      Retry)
    short = CompactResponse(1, 0x9000, b"\x00").encode()
    assert isinstance(core.interpret(JobKind.TOPUP, script, [], PorReport(ok, True, short)),
                      Retry)
    none = CompactResponse(0, 0x6700).encode()
    assert isinstance(core.interpret(JobKind.TOPUP, script, [], PorReport(ok, True, none)),
                      Retry)


def test_malformed_parameters_are_refused() -> None:
    with pytest.raises(core.JobError):
        core.job_ops(JobKind.TOPUP, {"amount_fen": 0, "transaction_id": TXN.hex()})
    with pytest.raises(core.JobError):
        core.job_ops(JobKind.DELETE, {"apps": ["sauna"]})
    with pytest.raises(core.JobError):
        core.job_ops(JobKind.MENU, {"title": "x", "items": [], "service_number": "1"})


def test_state_machine() -> None:
    policy = Policy(max_attempts=3, por_timeout=10, backoff=1, backoff_max=4)
    assert core.decide(Done(("credit",), {"balance_fen": 1}), 1, policy, NOW) == Decision(
        JobState.CONFIRMED, done=("credit",), result={"balance_fen": 1})
    retry = core.decide(Retry("x"), 2, policy, NOW)
    assert retry.state is JobState.PENDING
    assert retry.not_before == NOW + datetime.timedelta(seconds=2)
    assert core.decide(Progress(("a",), "x"), 1, policy, NOW).not_before == NOW
    exhausted = core.decide(Retry("counter"), 3, policy, NOW)
    assert exhausted.state is JobState.FAILED and "3 attempts" in (exhausted.failure or "")
    assert core.decide(Wait(), 1, policy, NOW).not_before == NOW + datetime.timedelta(seconds=10)
    assert core.on_timeout(3, policy, NOW).state is JobState.FAILED
    assert core.on_timeout(1, policy, NOW).state is JobState.PENDING
    failed = Decision(JobState.FAILED, failure="x")
    assert core.final_state(JobKind.TOPUP, failed) is JobState.REVERSED
    assert core.final_state(JobKind.LOCK, failed) is JobState.FAILED
    assert policy.pause(10) == 4


def test_transitions() -> None:
    core.check_transition(JobState.PENDING, JobState.SENT)
    core.check_transition(JobState.FAILED, JobState.REVERSED)
    with pytest.raises(core.JobError):
        core.check_transition(JobState.CONFIRMED, JobState.PENDING)
    with pytest.raises(core.JobError):
        core.check_transition(JobState.REVERSED, JobState.CONFIRMED)


def test_the_core_does_no_io() -> None:
    import ast
    import pathlib

    source = pathlib.Path(core.__file__).read_text()
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (node.names if isinstance(node, ast.Import) else
                              [type("A", (), {"name": node.module or ""})()])}
    assert not imported & {"asyncio", "aiohttp", "sqlalchemy", "socket", "smpp"}


@pytest.mark.parametrize("module", [
    "gateway.services.ota_effects", "gateway.services.ota_flow", "gateway.services.topups",
    "gateway.services.stk_requests", "gateway.services.ota_jobs",
    "gateway.services.ota_reconcile", "gateway.workers.ota", "gateway.api.ota",
    "gateway.commands.demo"])
def test_each_module_imports_first(module: str) -> None:
    """No import cycle bites whichever OTA module a program imports first."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
