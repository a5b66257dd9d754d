"""Over-the-air top-ups end to end: confirmed per second, and the latency of one top-up.

    .venv/bin/python bench/topup.py [--cards 400] [--seconds 10] [--rates 100,200,300]
                                     [--idle 200] [--concurrency 256]
                                     [--only service|rest|latency]

The path is the whole of 空中充值: the request transaction (ledger posting and hold, the job),
the OTA engine claiming jobs and allocating counters (committed before sending), SCP80 packets
built with each card's keys, submit_sm through the gateway's ESME → ``onecard smsc`` (the SMSC
simulator, its own process) → ``onecard sim fleet`` (emulated handsets and cards, its own
process: SMS-PP download, SCP80 checks, CREDIT, ciphered PoR sent back as MO) → the PoR as
deliver_sm → verified with the card's keys → the ledger hold released, the balance compared,
the member's SMS queued, in group-committed transactions. SQLite (WAL), as embedded.

Figures:

* ``topups_per_s``: confirmed top-ups per second, ``--concurrency`` requests outstanding, each
  made by the top-up use case (``gateway.services.topups.request``) in this process;
* ``topups_per_s_rest``: the same through ``POST /api/v1/cards/{iccid}/topups`` over HTTP (the
  HTTP client runs in this process too, and costs it CPU);
* ``latency_p50_ms_at_R_per_s`` / ``latency_p99_ms_at_R_per_s``: from the request to the job
  confirmed, top-ups arriving at R per second (open loop, each of ``--rates``) for
  ``--seconds``; a rate above what the stack confirms per second shows as a growing queue;
* ``latency_idle_p50_ms`` / ``latency_idle_p99_ms``: one top-up at a time (``--idle`` of them).

Each phase starts once the member SMS of the one before are sent (the outbox drained), so that
it measures its own load. Every top-up must end confirmed, each card's purse must equal what was
sent to it, and no PoR may be refused. Prints one line per figure, then one JSON line with all
of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from gateway import keys
from gateway.app import create_app
from gateway.db.models_ota import OtaAlert, OtaTopup
from gateway.db.models_outbox import OutboxMessage, SmsState
from gateway.domain import Role
from gateway.ota_core import JobState
from gateway.services import topups
from gateway.services.base import IdemKey, Principal
from gateway.settings import Settings, SmscSettings
from gateway.workers.ota import ENGINE, OtaEngine
from ota.keys import derive_card_keyset
from ota.mo_request import DEFAULT_SERVICE_NUMBER
from sim_emulator.factory import identity_for

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MASTER = bytes(range(16))
TOKEN = "oc_bench-" + secrets.token_hex(16)


async def start_processes(tmp: Path, cards: int) -> tuple[list[Any], int]:
    smsc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "gateway.cli", "smsc", "--port", "0", "--window", "400",
        "--user", "gateway:gw", "--user", "handsets:hs", "--unrouted", "deliver",
        "--route", f"^\\+?{DEFAULT_SERVICE_NUMBER}=gateway", "--log-level", "ERROR",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    assert smsc.stdout is not None
    port = int((await smsc.stdout.readline()).decode().rsplit(":", 1)[1])
    fleet = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "gateway.cli", "sim", "fleet", "--smsc", f"127.0.0.1:{port}", "--count",
        str(cards), "--state", str(tmp / "fleet"), "--ota-master", MASTER.hex(),
        "--system-id", "handsets", "--password", "hs", "--log-level", "ERROR",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    assert fleet.stdout is not None
    if not await asyncio.wait_for(fleet.stdout.readline(), 300):
        raise SystemExit("onecard sim fleet did not start")
    return [fleet, smsc], port


async def stop_processes(processes: list[Any]) -> None:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


class Gateway:
    """The gateway in this process, its HTTP port and a record of when each job finished."""

    def __init__(self, app: web.Application, url: str) -> None:
        self.app = app
        self.url = url
        self.finished: dict[int, tuple[float, str]] = {}
        self.engine: OtaEngine = app[ENGINE]
        self.engine.listeners.append(self._on_finished)
        # One future per job waited for: a finished job wakes its own waiter, not every waiter
        # (with hundreds outstanding, waking all of them on each finish cost this process more
        # CPU than the gateway's own work, and the gateway runs in this process).
        self._waiting: dict[int, asyncio.Future[None]] = {}

    def _on_finished(self, job_id: int, kind: str, state: str) -> None:
        self.finished[job_id] = (time.perf_counter(), state)
        future = self._waiting.pop(job_id, None)
        if future is not None and not future.done():
            future.set_result(None)

    async def until(self, job_ids: list[int], timeout: float = 120.0) -> None:
        loop = asyncio.get_running_loop()
        futures = []
        for job in job_ids:
            if job not in self.finished:
                future = self._waiting.get(job)
                if future is None:
                    future = self._waiting[job] = loop.create_future()
                futures.append(future)
        if not futures:
            return
        _, pending = await asyncio.wait(futures, timeout=timeout)
        if pending:
            raise SystemExit(f"{len(pending)} jobs not finished after {timeout}s")


async def start_gateway(tmp: Path, port: int) -> tuple[web.AppRunner, Gateway]:
    settings = Settings.for_database(
        tmp, operator_token=TOKEN, rate_limit_per_second=1e6, rate_limit_burst=1_000_000,
        log_level="WARNING",
        smsc=SmscSettings("127.0.0.1", port, "gateway", "gw", source_addr=DEFAULT_SERVICE_NUMBER,
                          window=200))
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await app[keys.SMSC_LINK].wait_bound(10)
    return runner, Gateway(app, f"http://127.0.0.1:{runner.addresses[0][1]}")


async def setup(session: aiohttp.ClientSession, gw: Gateway, cards: int) -> tuple[str, list[str]]:
    async def call(method: str, path: str, body: Any, token: str = TOKEN) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(8)}
        async with session.request(method, f"{gw.url}/api/v1{path}", json=body,
                                   headers=headers) as resp:
            data = await resp.json()
            if resp.status >= 300:
                raise SystemExit(f"{method} {path}: {resp.status} {data}")
            return data

    ent = await call("POST", "/enterprises", {"code": "BENCH", "name": "Bench",
                                              "sms_signature": "一卡通",
                                              "modules": ["purchase", "topup", "sms"]})
    admin = await call("POST", "/admins", {"login": "bench", "name": "Bench",
                                           "role": "enterprise_admin", "enterprise_id": ent["id"]})
    token = admin["token"]
    iccids = []
    for index in range(cards):
        ident = identity_for(index)
        member = await call("POST", "/members", {"msisdn": ident.msisdn, "name": f"m{index}"},
                            token)
        keyset = derive_card_keyset(MASTER, ident.iccid)
        await call("POST", "/cards", {"iccid": ident.iccid, "member_id": member["id"], "keys": {
            "kic": keyset.kic.hex(), "kid": keyset.kid.hex()}}, token)
        iccids.append(ident.iccid)
    jobs = await asyncio.gather(*(call("POST", f"/cards/{i}/apps", {
        "apps": ["purse"], "purse_limit_fen": 100_000_000}, token) for i in iccids))
    await gw.until([j["id"] for j in jobs])
    bad = [j for j in jobs if gw.finished[j["id"]][1] != JobState.CONFIRMED.value]
    if bad:
        raise SystemExit(f"{len(bad)} purses not issued")
    return token, iccids


Request = Callable[[str, int], Awaitable[tuple[int, int]]]  # (iccid, fen) -> (topup, job)


def service_request(gw: Gateway, enterprise_admin: Principal) -> Request:
    deps = gw.app[keys.DEPS]

    async def request(iccid: str, amount: int) -> tuple[int, int]:
        view = await topups.request(deps, enterprise_admin, iccid, amount,
                                    IdemKey(secrets.token_hex(8), "bench"))
        return int(view["id"]), int(view["job_id"])

    return request


def rest_request(session: aiohttp.ClientSession, gw: Gateway, token: str) -> Request:
    async def request(iccid: str, amount: int) -> tuple[int, int]:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(8)}
        async with session.post(f"{gw.url}/api/v1/cards/{iccid}/topups",
                                json={"amount_fen": amount}, headers=headers) as resp:
            body = await resp.json()
            if resp.status != 202:
                raise SystemExit(f"top-up refused: {resp.status} {body}")
            return int(body["id"]), int(body["job_id"])

    return request


async def throughput(gw: Gateway, request: Request, iccids: list[str], seconds: float,
                     concurrency: int, sent: dict[str, int]) -> float:
    """Confirmed top-ups per second with ``concurrency`` outstanding (closed loop)."""
    start = time.perf_counter()
    confirmed: list[int] = []
    turn = 0

    async def worker() -> None:
        nonlocal turn
        while time.perf_counter() - start < seconds:
            iccid = iccids[turn % len(iccids)]
            turn += 1
            amount = 1 + turn % 7
            _, job = await request(iccid, amount)
            sent[iccid] = sent.get(iccid, 0) + amount
            await gw.until([job])
            confirmed.append(job)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(confirmed) / (time.perf_counter() - start)


async def latency(gw: Gateway, request: Request, iccids: list[str], rate: float,
                  seconds: float, sent: dict[str, int]) -> list[float]:
    """Milliseconds from request to confirmation, requests arriving at ``rate`` (open loop)."""
    tasks = []
    start = time.perf_counter()
    count = int(rate * seconds)

    async def one(index: int) -> float:
        began = time.perf_counter()
        iccid = iccids[index % len(iccids)]
        _, job = await request(iccid, 10)
        sent[iccid] = sent.get(iccid, 0) + 10
        await gw.until([job])
        return (gw.finished[job][0] - began) * 1000

    for index in range(count):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(index)))
    return list(await asyncio.gather(*tasks))


async def quiet(gw: Gateway, phase: str, timeout: float = 300.0) -> None:
    """Until the member SMS of the phase before are sent and their receipts written: each
    phase measures its own load, not the previous phase's backlog in the outbox."""
    deps = gw.app[keys.DEPS]
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        async with deps.uow(readonly=True) as uow:
            left = int((await uow.session.execute(select(func.count(OutboxMessage.id)).where(
                OutboxMessage.state.in_([SmsState.QUEUED, SmsState.SUBMITTED])))).scalar_one())
        if not left:
            break
        await asyncio.sleep(0.2)
    print(f"# before {phase}: {time.perf_counter() - start:.1f}s for the outbox to drain",
          file=sys.stderr, flush=True)


async def verify(gw: Gateway, sent: dict[str, int]) -> dict[str, int]:
    deps = gw.app[keys.DEPS]
    async with deps.uow(readonly=True) as uow:
        states = dict((await uow.session.execute(select(OtaTopup.state, func.count()).group_by(
            OtaTopup.state))).all())
        alerts = int((await uow.session.execute(select(func.count(OtaAlert.id)))).scalar_one())
        balances = dict((await uow.session.execute(select(
            OtaTopup.iccid, func.max(OtaTopup.card_balance_fen)).group_by(OtaTopup.iccid)))
            .all())
    wrong = sum(balances.get(i) != total for i, total in sent.items())
    return {"confirmed": states.get(JobState.CONFIRMED, 0),
            "not_confirmed": sum(v for k, v in states.items() if k is not JobState.CONFIRMED),
            "alerts": alerts, "cards_with_wrong_balance": wrong}


def show(figures: dict[str, float], name: str, value: float) -> None:
    figures[name] = value
    print(f"{name}: {value:.1f}", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-topup-") as name:
        tmp = Path(name)
        processes, port = await start_processes(tmp, args.cards)
        runner, gw = await start_gateway(tmp, port)
        try:
            async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
                token, iccids = await setup(session, gw, args.cards)
                admin = Principal(role=Role.OPERATOR, actor="bench")
                sent: dict[str, int] = {}
                figures: dict[str, float] = {}
                service, rest = service_request(gw, admin), rest_request(session, gw, token)
                if args.only is None:
                    await quiet(gw, "idle")
                    idle = [(await latency(gw, service, iccids, 1000, 0.001, sent))[0]
                            for _ in range(args.idle)]
                    show(figures, "latency_idle_p50_ms", statistics.median(idle))
                    show(figures, "latency_idle_p99_ms", pct(idle, 0.99))
                if args.only in (None, "service"):
                    await quiet(gw, "service")
                    show(figures, "topups_per_s", await throughput(
                        gw, service, iccids, args.seconds, args.concurrency, sent))
                if args.only in (None, "rest"):
                    await quiet(gw, "rest")
                    show(figures, "topups_per_s_rest", await throughput(
                        gw, rest, iccids, args.seconds, args.concurrency, sent))
                if args.only in (None, "latency"):
                    for rate in args.rates:
                        await quiet(gw, f"{rate:g}/s")
                        lat = await latency(gw, service, iccids, rate, args.seconds, sent)
                        show(figures, f"latency_p50_ms_at_{rate:g}_per_s", pct(lat, 0.50))
                        show(figures, f"latency_p99_ms_at_{rate:g}_per_s", pct(lat, 0.99))
                checks = await verify(gw, sent)
        finally:
            await runner.cleanup()
            await stop_processes(processes)
    if checks["not_confirmed"] or checks["alerts"] or checks["cards_with_wrong_balance"]:
        raise SystemExit(f"inconsistent run: {checks}")
    figures["confirmed_total"] = checks["confirmed"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=400, help="handsets in the fleet")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--rates", type=lambda v: [float(x) for x in v.split(",")],
                        default=[100.0, 200.0, 300.0], help="arrivals/s of the latency phases")
    parser.add_argument("--idle", type=int, default=200, help="top-ups one at a time")
    parser.add_argument("--concurrency", type=int, default=256, help="outstanding top-ups")
    parser.add_argument("--only", choices=["service", "rest", "latency"],
                        help="run one phase only (profiling)")
    args = parser.parse_args()
    figures = asyncio.run(bench(args))
    print(f"confirmed_total: {figures['confirmed_total']:.0f}")
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    os.environ.setdefault("ONECARD_LOG_LEVEL", "WARNING")
    main()
