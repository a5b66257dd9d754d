"""Kill and resume: a bill run survives SIGKILL of the process running it.

- ``onecard bill run`` (a real subprocess) is killed mid-run; a gateway started afterwards on
  the same database takes the run over once the dead process's lease lapses and finishes it;
  every member is billed exactly once: one outbox row and one message at the SMSC per member.
- ``onecard serve`` (a real subprocess, bound to the SMSC simulator) is killed while its bill
  worker runs; started again, it finishes the run; one bill per member in the database, every
  member's bill at the SMSC.

The SMSC simulator and a few handsets run in the test process, over TCP.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway import keys
from gateway.app import create_app
from gateway.db.engine import Database
from gateway.domain import Module
from gateway.ports import EventBus, utcnow
from gateway.services import enterprises, members
from gateway.services.base import SYSTEM, Deps
from gateway.settings import Settings
from gateway.vault import Vault
from sim_emulator.handset import Fleet
from smpp.simulator import Smsc
from tests.gateway.bills_support import wait_for
from tests.gateway.helpers import OPERATOR_TOKEN
from tests.gateway.outbox_helpers import GATEWAY, SERVICE_NUMBER, fleet_for, smsc_config

pytestmark = pytest.mark.slow

MEMBERS = 1200
WITH_HANDSETS = 20
CODE = "RESUME"


@dataclass
class World:
    data_dir: Path
    config: Path
    smsc: Smsc
    fleet: Fleet
    msisdns: list[str]

    def settings(self) -> Settings:
        return Settings.load(self.config)

    def onecard(self, *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "gateway.cli", *args, "--config", str(self.config)]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=Path(__file__).parents[2])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.data_dir / "onecard.sqlite", timeout=10) as db:
            return list(db.execute(sql))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(data_dir: Path, smsc_port: int, http_port: int) -> Path:
    path = data_dir / "onecard.toml"
    path.write_text(f"""
data_dir = "."
log_level = "WARNING"
[server]
port = {http_port}
[security]
master_keys = ["{secrets.token_hex(32)}"]
operator_token = "{OPERATOR_TOKEN}"
[smsc]
host = "127.0.0.1"
port = {smsc_port}
system_id = "{GATEWAY.system_id}"
password = "{GATEWAY.password}"
source_addr = "{SERVICE_NUMBER}"
window = 50
[outbox]
poll_s = 0.05
lease_s = 3.0
[bills]
batch_size = 20
lease_s = 1.5
poll_s = 0.2
""")
    return path


async def seed(settings: Settings) -> list[str]:
    deps = Deps(settings=settings, database=Database(settings), bus=EventBus(),
                vault=Vault(settings.master_keys), clock=utcnow)
    try:
        await deps.database.migrate()
        ent = await enterprises.create(deps, SYSTEM, enterprises.EnterpriseIn(
            code=CODE, name="续跑企业", sms_signature="一卡通",
            modules=(Module.ATTENDANCE, Module.PURCHASE, Module.SMS)), None)
        msisdns = [f"861380{i:07d}" for i in range(MEMBERS)]
        csv = "msisdn,name,employee_no\n" + "".join(
            f"{m},成员{i},E{i:05d}\n" for i, m in enumerate(msisdns))
        await members.import_csv(deps, SYSTEM, ent["id"], csv.encode(), None)
        return msisdns
    finally:
        await deps.database.dispose()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with Smsc(smsc_config(deliver_window=500)) as smsc:
        config = write_config(tmp_path, smsc.port, free_port())
        msisdns = await seed(Settings.load(config))
        fleet = fleet_for(msisdns[:WITH_HANDSETS], smsc.port)
        await fleet.start()
        try:
            yield World(tmp_path, config, smsc, fleet, msisdns)
        finally:
            await fleet.stop()


async def until_processed(world: World, proc: subprocess.Popen[bytes], low: int) -> int:
    """Wait until the run has billed more than ``low`` members (and not all of them)."""
    def processed() -> int | None:
        if proc.poll() is not None:
            raise AssertionError(f"the process ended first: {proc.communicate()}")
        rows = world.query("SELECT processed FROM bill_runs")
        return rows[0][0] if rows and rows[0][0] > low else None

    done: int = await wait_for(processed, 60, "the run under way")
    assert done < MEMBERS, "the run finished before it could be killed"
    return done


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def check_billed_once(world: World) -> None:
    assert world.query("SELECT count(*) FROM bill_run_members") == [(0,)]  # nobody skipped
    sms = world.query("SELECT member_id, count(*) FROM sms_outbox "
                      "WHERE batch_id LIKE 'bill-run:%' GROUP BY member_id")
    assert len(sms) == MEMBERS and {n for _, n in sms} == {1}
    ((state, processed, queued, attempts),) = world.query(
        "SELECT state, processed, queued, attempts FROM bill_runs")
    assert (state, processed, queued) == ("done", MEMBERS, MEMBERS) and attempts >= 2


async def delivered(world: World) -> None:
    """Every bill delivered, and the run closed: the worker marks it done in a transaction of
    its own after the last batch, which under load can come after the last receipt."""
    async def final() -> bool:
        rows = world.query("SELECT state, count(*) FROM sms_outbox GROUP BY state")
        counts: dict[str, int] = dict(rows)
        runs = world.query("SELECT state FROM bill_runs")
        return counts.get("delivered", 0) == MEMBERS and runs == [("done",)]

    await wait_for(final, 120, "every bill delivered and the run done")


def at_smsc(world: World) -> Counter[str]:
    return Counter(m.destination for m in world.smsc.messages if m.origin != "network")


async def test_cli_killed_mid_run_gateway_finishes_it(world: World, aiohttp_client: Any) -> None:
    proc = world.onecard("bill", "run", "--enterprise", CODE, "--period", "2026-11",
                         "--kind", "consumption")
    half = await until_processed(world, proc, MEMBERS // 5)
    kill(proc)
    ((state, processed),) = world.query("SELECT state, processed FROM bill_runs")
    assert state == "running" and half <= processed < MEMBERS
    # A gateway on the same database: its bill worker takes the run over (the dead CLI's
    # lease lapses), its dispatcher sends every bill to the SMSC.
    client = await aiohttp_client(create_app(world.settings()))
    await client.app[keys.SMSC_LINK].wait_bound(10)
    await delivered(world)
    check_billed_once(world)
    counts = at_smsc(world)
    assert len(counts) == MEMBERS and set(counts.values()) == {1}  # exactly once at the SMSC
    for msisdn in world.msisdns[:WITH_HANDSETS]:
        (text,) = [m.text for m in world.fleet[msisdn].inbox]
        assert text.startswith("【一卡通】成员") and "消费0笔" in text


async def test_gateway_killed_mid_run_finishes_it_after_restart(world: World) -> None:
    server = world.onecard("serve")
    base = f"http://127.0.0.1:{world.settings().port}"
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            async def up() -> bool:
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_for(up, 30, "the gateway up")
            async with http.get(f"{base}/api/v1/enterprises?code={CODE}") as resp:
                enterprise_id = (await resp.json())["items"][0]["id"]
            async with http.post(f"{base}/api/v1/bill-runs", json={
                    "period": "2026-11", "kinds": ["attendance"],
                    "enterprise_id": enterprise_id}) as resp:
                assert resp.status == 201, await resp.text()
        await until_processed(world, server, MEMBERS // 5)
        kill(server)
        server = world.onecard("serve")
        await delivered(world)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            kill(server)
    check_billed_once(world)
    counts = at_smsc(world)
    # Every member's bill reached the SMSC. A segment accepted in the instant before the kill,
    # its message_id not yet written, is sent again after the restart (docs/outbox.md).
    assert len(counts) == MEMBERS
    assert sum(counts.values()) - MEMBERS <= 50  # the dispatcher's in-flight window at most
