"""Benchmark: the gateway's terminal record ingestion and card lifecycle operations.

    python bench/api.py [--batches 60] [--terminals 4] [--lifecycle 400] [--backend sqlite]

For each backend (SQLite in a temporary directory, and PostgreSQL in a fresh schema when it is
reachable at ONECARD_TEST_PG_URL or 127.0.0.1:5432), a real ``onecard serve`` is started in its
own process, a tenant is built through the API (cards with derived keys, purses topped up),
then:

* ``door``, ``attendance``: door (then attendance) terminals upload signed batches of 100
  records, in parallel;
* ``purchase``: POS terminals upload batches of 100 purchases, each posted to the ledger;
* ``lifecycle``: admins run loss report / unfreeze pairs on distinct cards, in parallel, each
  with its Idempotency-Key (each operation bumps the blacklist version and audits).

Records/s counts records stored per second of wall time, measured at the client (HTTP, JSON,
HMAC, validation, one transaction per batch). On a shared machine the wall-time rate depends on
what else runs, so each phase also reports its rate per CPU-second of the server process
(``..._per_server_cpu_s``, from /proc/<pid>/stat): what one dedicated core would sustain;
``load_1m`` is the machine's load average when the backend's run began.
Prints one line per figure, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.services.terminals import sign

PG_URL = os.environ.get("ONECARD_TEST_PG_URL",
                        "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
OPERATOR = "oc_bench-operator-" + uuid.uuid4().hex
BATCH = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), 2):
            return True
    except OSError:
        return False


class Server:
    """``onecard serve`` in its own process, so that client and server do not share a core."""

    def __init__(self, data_dir: Path, database_url: str | None, schema: str | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = data_dir / "bench.toml"
        lines = ['log_level = "WARNING"', "[security]", f'operator_token = "{OPERATOR}"',
                 "rate_limit_per_second = 1000000.0", "rate_limit_burst = 1000000"]
        if database_url:
            lines += ["[database]", f'url = "{database_url}"', f'schema = "{schema}"']
        config.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    async def wait(self, session: aiohttp.ClientSession) -> None:
        for _ in range(600):
            try:
                async with session.get(f"{self.base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise SystemExit(f"server exited: {err}")
            await asyncio.sleep(0.1)
        raise SystemExit("server did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process (and its aiosqlite threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(self, method: str, path: str, token: str, body: Any = None,
                   key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        async with self.session.request(method, self.base + path, json=body,
                                        headers=headers) as resp:
            data = await resp.json()
            if resp.status >= 300:
                raise SystemExit(f"{method} {path}: {resp.status} {data}")
            return data


class Terminal:
    def __init__(self, client: Client, code: str, secret: str) -> None:
        self.client = client
        self.code = code
        self.secret = bytes.fromhex(secret)
        self.seq = 0

    async def upload(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        path = "/api/v1/terminal/records"
        raw = json.dumps({"records": records}).encode()
        stamp, nonce = str(int(time.time())), uuid.uuid4().hex
        headers = {"X-Terminal-Id": self.code, "X-Timestamp": stamp, "X-Nonce": nonce,
                   "X-Signature": sign(self.secret, "POST", path, stamp, nonce, raw),
                   "Content-Type": "application/json"}
        async with self.client.session.post(self.client.base + path, data=raw,
                                            headers=headers) as resp:
            body: dict[str, Any] = await resp.json()
            if resp.status != 200:
                raise SystemExit(f"upload: {resp.status} {body}")
            return body

    def batch(self, kind: str, iccids: list[str], n: int = BATCH,
              **extra: Any) -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            self.seq += 1
            out.append({"seq": self.seq, "type": kind, "iccid": iccids[i % len(iccids)],
                        "at": int(time.time()), **extra})
        return out


async def build_tenant(client: Client, cards: int, terminals: int) -> dict[str, Any]:
    ent = await client.call("POST", "/api/v1/enterprises", OPERATOR, {
        "code": "BENCH", "name": "bench", "sms_signature": "bench",
        "modules": ["attendance", "door", "purchase", "topup"]})
    admin = await client.call("POST", "/api/v1/admins", OPERATOR, {
        "login": "bench-admin", "name": "bench", "role": "enterprise_admin",
        "enterprise_id": ent["id"]})
    token = admin["token"]
    csv = "msisdn,name\n" + "".join(f"86137{i:08d},m{i}\n" for i in range(cards))
    async with client.session.post(client.base + "/api/v1/members/import", data=csv.encode(),
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
        members = (await resp.json())["members"]
    iccids = [f"8986{i:016d}" for i in range(cards)]
    for member, iccid in zip(members, iccids, strict=True):
        await client.call("POST", "/api/v1/cards", token, {
            "iccid": iccid, "member_id": member["id"], "apps": ["door", "purse"]})
    made: dict[str, list[Terminal]] = {}
    for kind in ("door", "attendance", "pos", "topup"):
        for i in range(terminals if kind != "topup" else 1):
            row = await client.call("POST", "/api/v1/terminals", token, {
                "code": f"{kind}-{i}", "kind": kind, "name": kind})
            made.setdefault(kind, []).append(Terminal(client, row["code"], row["secret"]))
    topup = made["topup"][0]
    for start in range(0, cards, BATCH):
        chunk = iccids[start:start + BATCH]
        await topup.upload(topup.batch("topup", chunk, len(chunk), amount_fen=10_000_000))
    return {"token": token, "iccids": iccids, "terminals": made}


async def ingest(terminals: list[Terminal], kind: str, iccids: list[str], batches: int,
                 **extra: Any) -> tuple[float, int]:
    async def run(term: Terminal) -> int:
        stored = 0
        for _ in range(batches):
            reply = await term.upload(term.batch(kind, iccids, **extra))
            stored += reply["accepted"]
            if reply["flagged"]:
                raise SystemExit(f"unexpected flags: {reply['flagged'][:3]}")
        return stored

    started = time.perf_counter()
    counts = await asyncio.gather(*(run(t) for t in terminals))
    return sum(counts) / (time.perf_counter() - started), sum(counts)


async def lifecycle(client: Client, token: str, iccids: list[str], ops: int,
                    workers: int = 8) -> tuple[float, int]:
    async def run(cards: list[str]) -> int:
        done = 0
        while done < ops // workers:
            for iccid in cards:
                for op in ("loss", "unfreeze"):
                    await client.call("POST", f"/api/v1/cards/{iccid}/{op}", token, {},
                                      key=uuid.uuid4().hex)
                    done += 1
        return done

    started = time.perf_counter()
    counts = await asyncio.gather(*(run(iccids[w::workers][:4]) for w in range(workers)))
    return sum(counts) / (time.perf_counter() - started), sum(counts)


async def bench_backend(name: str, args: argparse.Namespace) -> dict[str, float]:
    url, schema = (PG_URL, f"bench_{uuid.uuid4().hex[:10]}") if name == "postgres" else (None,
                                                                                          None)
    figures: dict[str, float] = {f"load_1m_{name}": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), url, schema)
        try:
            async with aiohttp.ClientSession() as session:
                await server.wait(session)
                client = Client(session, server.base)
                tenant = await build_tenant(client, args.cards, args.terminals)
                iccids, terms = tenant["iccids"], tenant["terminals"]
                phases: dict[str, Callable[[], Awaitable[tuple[float, int]]]] = {
                    "ingest_door": lambda: ingest(terms["door"], "door", iccids, args.batches),
                    "ingest_attendance": lambda: ingest(terms["attendance"], "attendance",
                                                        iccids, args.batches),
                    "ingest_purchase": lambda: ingest(terms["pos"], "purchase", iccids,
                                                      args.batches, amount_fen=1),
                    "lifecycle": lambda: lifecycle(client, tenant["token"], iccids,
                                                   args.lifecycle),
                }
                for phase, run in phases.items():
                    cpu = server.cpu_seconds()
                    rate, count = await run()
                    unit = "ops" if phase == "lifecycle" else "records"
                    figures[f"{phase}_{unit}_per_s_{name}"] = round(rate, 1)
                    figures[f"{phase}_{unit}_per_server_cpu_s_{name}"] = round(
                        count / max(server.cpu_seconds() - cpu, 1e-9), 1)
        finally:
            server.stop()
            if schema:
                await drop_schema(schema)
    return figures


async def drop_schema(schema: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=60, help="batches per terminal")
    parser.add_argument("--terminals", type=int, default=4, help="terminals in parallel")
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--lifecycle", type=int, default=400, help="lifecycle operations")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    figures: dict[str, float] = {}
    for name in backends:
        if name == "postgres" and not pg_reachable():
            print("postgres: not reachable, skipped")
            continue
        result = asyncio.run(bench_backend(name, args))
        for key, value in result.items():
            if key.startswith("load_1m"):
                print(f"{key}: {value}", flush=True)
                continue
            unit = "ops" if key.startswith("lifecycle") else "records"
            per = "server CPU-second" if "_cpu_s_" in key else "second"
            print(f"{key}: {value} {unit} per {per}", flush=True)
        figures.update(result)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
