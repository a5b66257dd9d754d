"""``onecard serve``: the real command in a subprocess, and ``serve()`` in process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.commands.serve import serve
from gateway.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(base: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{base}/healthz") as resp:
                    body: dict[str, Any] = await resp.json()
                    return body
            except aiohttp.ClientError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def get(url: str, token: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(
        url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_the_command_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ONECARD_OPERATOR_TOKEN": "oc_subprocess-token"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--data-dir",
         str(tmp_path / "data")], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        health = await wait_healthy(f"http://127.0.0.1:{port}")
        assert health["status"] == "ok"
        listing = await get(f"http://127.0.0.1:{port}/api/v1/enterprises", "oc_subprocess-token")
        assert listing["items"] == []
        assert (tmp_path / "data" / "onecard.sqlite").exists()
        assert (tmp_path / "data" / "master.key").stat().st_mode & 0o077 == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()


def test_bad_settings_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nport = 'http'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "server.port" in proc.stderr


async def test_embedded_run_prints_working_tokens(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    settings = Settings.for_database(tmp_path, port=port, demo_members=3)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, embedded=True, stop=stop))
    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        out = ""
        for _ in range(900):
            out += capsys.readouterr().out
            if "over the air" in out:
                break
            await asyncio.sleep(0.1)
        lines = {line.split(":")[0]: line.rsplit(" ", 1)[-1] for line in out.splitlines()}
        admin = lines["Demo admin (DEMO) token"]
        operator = lines["Operator token"]
        # Issued and topped up over the air: SMSC simulator, emulated SIMs, OTA job engine.
        cards = await get(f"http://127.0.0.1:{port}/api/v1/cards", admin)
        assert len(cards["items"]) == 3
        assert {c["balance_fen"] for c in cards["items"]} == {10_000}
        assert {a["state"] for c in cards["items"] for a in c["apps"]} == {"active"}
        assert "SIM fleet:      3 emulated handsets" in out
        assert len(list((tmp_path / "embedded-sims").glob("*.json"))) == 3
        ents = await get(f"http://127.0.0.1:{port}/api/v1/enterprises", operator)
        assert [e["code"] for e in ents["items"]] == ["DEMO"]
        assert f"http://127.0.0.1:{port}/api/v1/" in out
    finally:
        stop.set()
        await task
