"""``onecard smsc``: run the SMSC simulator (smpp.simulator) until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys

from smpp.pdus import MessageState
from smpp.simulator import Faults, IdStyle, Route, Smsc, SmscConfig, Unrouted, User


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=2775, help="TCP port (0: any free port)")
    parser.add_argument("--system-id", default="ONECARD-SIM", help="our system_id in bind_resp")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        type=User.parse,
        metavar="NAME:PASSWORD",
        help="an ESME account (repeatable); with none, any bind is accepted",
    )
    parser.add_argument(
        "--route",
        action="append",
        default=[],
        type=Route.parse,
        metavar="REGEX=SYSTEM_ID",
        help="send destinations matching REGEX to the binds of SYSTEM_ID (repeatable)",
    )
    parser.add_argument(
        "--unrouted",
        choices=[u.value for u in Unrouted],
        default=Unrouted.STORE.value,
        help="destinations no bind serves: deliver (simulated handsets), store, reject",
    )
    parser.add_argument("--receipt-delay", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument(
        "--receipt-state",
        choices=[s.stat for s in MessageState],
        default="DELIVRD",
        help="outcome of simulated deliveries (--unrouted deliver)",
    )
    parser.add_argument(
        "--undeliverable",
        type=re.compile,
        metavar="REGEX",
        help="destinations whose messages end UNDELIV",
    )
    parser.add_argument("--message-ids", choices=[s.value for s in IdStyle], default="hex")
    parser.add_argument(
        "--receipt-ids",
        choices=[s.value for s in IdStyle],
        help="style of the id: in receipt texts (default: as message_id)",
    )
    parser.add_argument(
        "--validity",
        type=float,
        default=24 * 3600.0,
        metavar="SECONDS",
        help="validity of messages that name none",
    )
    parser.add_argument("--retry-interval", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument("--window", type=int, default=10, help="outstanding deliver_sm per bind")
    parser.add_argument("--log-level", default="INFO")
    _fault_arguments(parser)


def _fault_arguments(parser: argparse.ArgumentParser) -> None:
    faults = parser.add_argument_group("fault knobs")
    faults.add_argument("--throttle-every", type=int, default=0, metavar="N")
    faults.add_argument("--queue-full-every", type=int, default=0, metavar="N")
    faults.add_argument("--response-delay", type=float, default=0.0, metavar="SECONDS")
    faults.add_argument("--drop-after", type=int, default=0, metavar="N")
    faults.add_argument("--unbind-after", type=int, default=0, metavar="N")
    faults.add_argument("--silent-enquire-link", action="store_true")
    faults.add_argument("--early-receipts", action="store_true")


def build_config(args: argparse.Namespace) -> SmscConfig:
    return SmscConfig(
        host=args.host,
        port=args.port,
        system_id=args.system_id,
        users=tuple(args.user),
        routes=tuple(args.route),
        unrouted=Unrouted(args.unrouted),
        id_style=IdStyle(args.message_ids),
        receipt_id_style=IdStyle(args.receipt_ids) if args.receipt_ids else None,
        receipt_delay=args.receipt_delay,
        receipt_state=MessageState.from_stat(args.receipt_state),
        undeliverable=args.undeliverable,
        default_validity=args.validity,
        retry_interval=args.retry_interval,
        deliver_window=args.window,
        faults=Faults(
            throttle_every=args.throttle_every,
            queue_full_every=args.queue_full_every,
            response_delay=args.response_delay,
            drop_after=args.drop_after,
            unbind_after=args.unbind_after,
            silent_enquire_link=args.silent_enquire_link,
            early_receipts=args.early_receipts,
        ),
    )


async def serve(config: SmscConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    smsc = Smsc(config)
    port = await smsc.start()
    # One line on stdout tells scripts (tests, bench) that the port is open.
    print(f"listening on {config.host}:{port}", flush=True)
    await stop.wait()
    await smsc.stop()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.user:
        logging.getLogger(__name__).warning("no --user given: any system_id may bind")
    asyncio.run(serve(build_config(args)))
    return 0
