"""SMPP throughput: our ESME against the SMSC simulator on loopback, beside a same-run baseline.

    .venv/bin/python bench/smpp.py [--messages 20000] [--windows 1,10,100]

The simulator runs in its own process (``onecard smsc``), as a carrier's SMSC would, so that
the ESME has a core to itself. Each case sends ``--messages`` messages of 70 UCS2 characters
(one segment each) and measures from the first submit_sm to the last submit_sm_resp, or to the
last delivery receipt when every message asks for one (registered_delivery=1).

Besides the rate, each case reports the CPU time the ESME process spent per message
(``time.process_time``): on a shared machine the rate depends on what else runs, the CPU cost
much less.

The baseline is the bare loop the notes measured (notes/smpp.md): smpplib as codec
(``make_pdu(...).generate()``, ``parse_pdu``) inside one asyncio Protocol, a window counter
and nothing else; no segmentation, no message ids, no receipt parsing. The ESME runs the whole
gateway path: split_text, frozen PDUs, the session state machine, the window, the token
bucket (unlimited), per-part futures, receipt parsing and a receipt callback.

Each case runs ``--repeats`` times (baseline and ESME alternating) and reports medians. Prints
one line per figure, then one JSON line with all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

# This file is bench/smpp.py: drop its folder from the path so "smpp" is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import smpplib.smpp  # noqa: E402

from smpp.client import Esme, EsmeConfig, SubmitResult  # noqa: E402
from smpp.receipts import Receipt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEXT = "一卡通账单" * 14  # 70 UCS2 characters: exactly one segment
DESTINATION = "8613800000000"
SOURCE = "10658888"


class _Codec:
    """smpplib's client stand-in: we pass sequence numbers ourselves."""

    sequence = None

    def next_sequence(self) -> int:
        return 0


def start_simulator() -> tuple[subprocess.Popen[str], int]:
    command = [
        sys.executable,
        "-m",
        "gateway.cli",
        "smsc",
        "--port",
        "0",
        "--user",
        "bench:secret",
        "--unrouted",
        "deliver",
        "--window",
        "100",
        "--log-level",
        "WARNING",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on"):
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1])


async def run_esme(port: int, messages: int, window: int, receipts: bool) -> tuple[float, float]:
    received = 0
    done = asyncio.get_running_loop().create_future()

    async def on_receipt(receipt: Receipt) -> None:
        nonlocal received
        received += 1
        if received == messages and not done.done():
            done.set_result(None)

    config = EsmeConfig(
        port=port, system_id="bench", password="secret", source_addr=SOURCE, window=window
    )
    esme = Esme(config, on_receipt=on_receipt)
    await esme.start(timeout=10)
    started, cpu = time.perf_counter(), time.process_time()
    # Keep a few hundred messages queued ahead and top them up in steps, as the gateway's
    # outbox dispatcher does with its batches: messages are prepared while earlier ones are on
    # the wire (not all before the first is sent), and the producer does not wake per message.
    ahead, step = max(2 * window, 200), max(window // 2, 50)
    futures: list[asyncio.Future[SubmitResult]] = []
    for i in range(messages):
        futures.append(
            esme.submit_nowait(DESTINATION, TEXT, registered_delivery=1 if receipts else 0)
        )
        if i >= ahead and i % step == 0:
            await futures[i - ahead]
    await asyncio.gather(*futures)
    if receipts:
        await asyncio.wait_for(done, 120)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await esme.stop()
    return messages / elapsed, cpu / messages


class _Baseline(asyncio.Protocol):
    """The bare smpplib-codec loop: bind, keep ``window`` submit_sm in flight, count."""

    def __init__(self, messages: int, window: int, receipts: bool) -> None:
        self.messages, self.window, self.receipts = messages, window, receipts
        self.codec = _Codec()
        self.buffer = b""
        self.sent = self.answered = self.receipts_seen = 0
        self.sequence = 1
        self.bound = asyncio.get_running_loop().create_future()
        self.finished = asyncio.get_running_loop().create_future()
        self.short_message = TEXT.encode("utf-16-be")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        bind = smpplib.smpp.make_pdu(
            "bind_transceiver",
            client=self.codec,
            sequence=1,
            system_id="bench",
            password="secret",
            system_type="",
        )
        transport.write(bind.generate())

    def fill(self) -> None:
        out = []
        while self.sent < self.messages and self.sent - self.answered < self.window:
            self.sequence += 1
            pdu = smpplib.smpp.make_pdu(
                "submit_sm",
                client=self.codec,
                sequence=self.sequence,
                source_addr_ton=0,
                source_addr_npi=0,
                source_addr=SOURCE,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=DESTINATION,
                data_coding=8,
                short_message=self.short_message,
                registered_delivery=1 if self.receipts else 0,
            )
            out.append(pdu.generate())
            self.sent += 1
        if out:
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []
        while len(self.buffer) >= 16:
            (length,) = struct.unpack(">I", self.buffer[:4])
            if len(self.buffer) < length:
                break
            frame, self.buffer = self.buffer[:length], self.buffer[length:]
            pdu = smpplib.smpp.parse_pdu(frame, client=self.codec)
            if pdu.command == "submit_sm_resp":
                self.answered += 1
            elif pdu.command == "deliver_sm":
                self.receipts_seen += 1
                resp = smpplib.smpp.make_pdu(
                    "deliver_sm_resp", client=self.codec, sequence=pdu.sequence
                )
                replies.append(resp.generate())
            elif pdu.command == "bind_transceiver_resp":
                self.bound.set_result(None)
        if replies:
            self.transport.write(b"".join(replies))
        if self.bound.done():
            self.fill()
        wanted = self.receipts_seen if self.receipts else self.answered
        if wanted >= self.messages and not self.finished.done():
            self.finished.set_result(None)


async def run_baseline(
    port: int, messages: int, window: int, receipts: bool
) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        lambda: _Baseline(messages, window, receipts), "127.0.0.1", port
    )
    await asyncio.wait_for(protocol.bound, 10)
    started, cpu = time.perf_counter(), time.process_time()
    protocol.fill()
    await asyncio.wait_for(protocol.finished, 120)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    unbind = smpplib.smpp.make_pdu("unbind", client=protocol.codec, sequence=protocol.sequence + 1)
    transport.write(unbind.generate())
    await asyncio.sleep(0.05)
    transport.close()
    return messages / elapsed, cpu / messages


def measure(
    port: int, messages: int, window: int, receipts: bool, repeats: int
) -> dict[str, tuple[float, float]]:
    """Median (rate, CPU per message) of each runner; the runs alternate, so that a burst of
    other work on the shared machine does not land on one runner only."""
    runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "esme": []}
    for _ in range(repeats):
        for name, runner in (("baseline", run_baseline), ("esme", run_esme)):
            runs[name].append(asyncio.run(runner(port, messages, window, receipts)))
    return {
        name: (statistics.median(r for r, _ in results), statistics.median(c for _, c in results))
        for name, results in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--windows", default="1,10,100")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case; medians")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    process, port = start_simulator()
    figures: dict[str, float] = {}
    try:
        for receipts in (False, True):
            for window in windows:
                label = f"window {window}, {'with' if receipts else 'no'} receipts"
                suffix = f"w{window}_{'dlr' if receipts else 'nodlr'}"
                results = measure(port, args.messages, window, receipts, args.repeats)
                for name, (rate, cpu) in results.items():
                    figures[f"{name}_{suffix}"] = round(rate)
                    figures[f"{name}_{suffix}_cpu_us"] = round(cpu * 1e6, 1)
                    print(
                        f"{name:8} {label}: {rate:,.0f} submit_sm/s,"
                        f" {cpu * 1e6:.1f} us of ESME CPU per message",
                        flush=True,
                    )
                ratio = results["esme"][0] / max(1.0, results["baseline"][0])
                figures[f"ratio_{suffix}"] = round(ratio, 2)
                print(f"ratio    {label}: {ratio:.2f} of baseline", flush=True)
    finally:
        process.terminate()
        process.wait(10)
    figures["cpus"] = os.cpu_count() or 0
    # The machine is shared: the load average says how much of it other work took meanwhile.
    figures["load_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
