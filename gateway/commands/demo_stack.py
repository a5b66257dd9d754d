"""The embedded instance ``onecard demo`` starts when it is given no ``--url``.

The SMSC simulator listens on a loopback port with two accounts (the gateway's and the
handsets') and routes MO to the service number to the gateway's bind; the gateway runs on
another loopback port over SQLite in the given directory, its ESME bound to the simulator. Both
stop when the context exits.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings, SmscSettings
from ota.mo_request import DEFAULT_SERVICE_NUMBER
from smpp.simulator import Smsc, SmscConfig, Unrouted, User
from smpp.simulator.config import Route

GATEWAY_ID = "gateway"


@contextlib.asynccontextmanager
async def embedded_instance(data_dir: Path, handsets: tuple[str, str]
                            ) -> AsyncIterator[tuple[str, str, int]]:
    """(base URL, operator token, SMSC port) of a gateway and SMSC simulator on loopback."""
    password = secrets.token_hex(4)
    route = Route(re.compile(f"^\\+?{DEFAULT_SERVICE_NUMBER}"), GATEWAY_ID)
    config = SmscConfig(port=0, users=(User(GATEWAY_ID, password), User(*handsets)),
                        routes=(route,), unrouted=Unrouted.DELIVER, deliver_window=100,
                        retry_interval=0.5)
    token = f"oc_demo-{secrets.token_hex(16)}"
    async with Smsc(config) as smsc:
        settings = Settings.for_database(
            data_dir, operator_token=token, rate_limit_per_second=10_000.0,
            rate_limit_burst=10_000, smsc=SmscSettings(
                "127.0.0.1", smsc.port, GATEWAY_ID, password,
                source_addr=DEFAULT_SERVICE_NUMBER))
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            await app[keys.SMSC_LINK].wait_bound(10)
            yield f"http://127.0.0.1:{port}", token, smsc.port
        finally:
            await runner.cleanup()
