"""``onecard demo``: the user stories against its own embedded instance, against a gateway
given by URL (with the handsets on that gateway's SMSC), and as the real command line."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from gateway.cli import build_parser
from gateway.commands import demo
from gateway.settings import Settings
from smpp.simulator import Smsc
from tests.gateway.helpers import OPERATOR_TOKEN
from tests.gateway.ota_stack import ota_settings, ota_smsc
from tests.gateway.outbox_helpers import HANDSETS, start_gateway


def args(*argv: str) -> argparse.Namespace:
    return build_parser("demo").parse_args(["demo", *argv])


async def test_demo_embedded_runs_every_story() -> None:
    lines: list[str] = []
    assert await demo.main(args(), lines.append) == 0, "\n".join(lines)
    text = "\n".join(lines)
    assert "embedded gateway at http://127.0.0.1:" in text
    assert [line for line in lines if line.startswith("[")] == [
        "[1/6] 空中发卡: an admin issues apps over the air",
        "[2/6] 空中充值: an admin tops up over the air",
        "[3/6] 应用删除: a member deletes an app from the STK menu",
        "[4/6] 短信: staff receive an SMS",
        "[5/6] 考勤账单、消费帐单: a bill run, read on the phones",
        "[6/6] 出账: the carrier's month rated and exported to files"]
    assert text.count("  passed (") == 6 and lines[-1] == "6/6 stories passed"
    assert "空中充值100.00元成功" in text and "门禁应用已于" in text
    # The bills, as the members' handsets show them.
    assert "report: billed 4, sent 4, delivered 4" in text
    assert "phone shows: 【一卡通】演示成员1您好，" in text and "考勤：应出勤1天，实出勤1天" in text
    assert "消费1笔，共12.50元，当前余额87.50元。回TD退订" in text
    # The carrier's bill: last month's files, one per layout, each with the first instalment
    # of the integration fee, and the same bytes when exported again.
    assert sum(".csv: csv_v1, sequence 1, 1 record(s), 60000 fen" in line for line in lines) == 1
    assert "exported again: byte-identical files" in text


async def test_demo_against_a_gateway_at_a_url(aiohttp_client: Any,
                                               sqlite_settings: Settings) -> None:
    async with Smsc(ota_smsc()) as smsc:
        client = await start_gateway(aiohttp_client, ota_settings(sqlite_settings, smsc.port))
        url = str(client.make_url("")).rstrip("/")
        lines: list[str] = []
        code = await demo.main(args("--url", url, "--token", OPERATOR_TOKEN, "--smsc",
                                    f"127.0.0.1:{smsc.port}", "--smsc-user",
                                    f"{HANDSETS.system_id}:{HANDSETS.password}",
                                    "--members", "3"), lines.append)
        await client.close()
    assert code == 0, "\n".join(lines)
    assert lines[0] == f"onecard demo: gateway at {url}, SMSC at 127.0.0.1:{smsc.port}"
    assert sum("setup: member" in line for line in lines) == 3


async def test_demo_reports_an_unreachable_gateway() -> None:
    lines: list[str] = []
    code = await demo.main(args("--url", "http://127.0.0.1:1", "--token", "x", "--smsc",
                                "127.0.0.1:1"), lines.append)
    assert code == 1 and lines[-1].startswith("onecard demo: cannot run:")


def test_demo_command_line() -> None:
    bad = subprocess.run([sys.executable, "-m", "gateway.cli", "demo", "--url", "http://x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--url needs --token and --smsc" in bad.stderr
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "demo"], capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("6/6 stories passed")
