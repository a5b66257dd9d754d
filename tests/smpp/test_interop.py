"""Our ESME against an SMSC we did not write: the server of the ``smpp34`` package (Rust),
run as a separate process (tests/smpp/smpp34_smsc.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from smpp.client import Esme, EsmeConfig
from smpp.receipts import IdFormat, IdPolicy, Receipt
from smpp.text import decode_short_message
from smpp.udh import Udh
from tests.smpp.test_kannel import TEXT, free_port
from tests.support import need

SCRIPT = Path(__file__).with_name("smpp34_smsc.py")


def _smpp34_installed() -> bool:
    try:
        import smpp34  # noqa: F401
    except ImportError:
        return False
    return True


async def test_long_ucs2_message_receipt_and_unbind_against_smpp34() -> None:
    need(_smpp34_installed(), "the smpp34 package (pip install -e '.[test]')")
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), str(port), stdout=asyncio.subprocess.PIPE
    )
    events: list[dict[str, object]] = []

    async def next_event() -> dict[str, object]:
        assert server.stdout is not None
        event: dict[str, object] = json.loads(await asyncio.wait_for(server.stdout.readline(), 10))
        events.append(event)
        return event

    try:
        assert (await next_event())["event"] == "listening"
        receipts: list[Receipt] = []

        async def on_receipt(receipt: Receipt) -> None:
            receipts.append(receipt)

        config = EsmeConfig(
            port=port,
            system_id="gateway",
            password="secret",
            source_addr="10658888",
            id_policy=IdPolicy(response=IdFormat.HEX),
        )
        esme = Esme(config, on_receipt=on_receipt)
        await esme.start(timeout=10)
        result = await esme.submit("8613800000000", TEXT, want_delivery=True)
        assert result.delivery is not None
        outcome = await asyncio.wait_for(result.delivery, 10)
        assert outcome.delivered and len(result.message_ids) >= 2
        assert sorted(r.message_id for r in receipts) == sorted(result.message_ids)
        await esme.stop()
        while (await next_event())["event"] != "unbound":
            pass
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()
    submits = [e for e in events if e["event"] == "submit"]
    assert {(e["esm_class"], e["data_coding"]) for e in submits} == {(0x40, 0x08)}
    parts = []
    for submit in submits:
        udh, body = Udh.decode(bytes.fromhex(str(submit["short_message"])))
        assert udh.concat is not None
        parts.append((udh.concat.sequence, body))
    text = decode_short_message(8, b"".join(body for _, body in sorted(parts)), False)[1]
    assert text == TEXT
    assert [e["status"] for e in events if e["event"] == "receipt_answered"] == [0] * len(submits)
