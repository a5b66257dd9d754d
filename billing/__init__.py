"""Carrier billing: CDRs, rating in integer fen, export files and reconciliation.

The service is billed to the carrier's billing system (seed 5: a service fee of 3-5 yuan per
member and month, never interchangeable with voice credit; one-off device and integration
fees). The package has a sans-I/O core and the adapters around it.

Core (no database, no asyncio, no sockets; ``tests/billing/test_sans_io.py`` checks):

- ``cdr``: usage records, their kinds and stable ids;
- ``period``: billing months in China Standard Time;
- ``tariffs``: fee plans with effective-dated tariffs, exact money below the fen;
- ``rating``: member-months from membership events, pricing, invoice lines rounded once,
  adjustments from re-rating;
- ``export``: CSV and fixed-width layouts as jinja2 templates, the TS 32.297 BER file;
- ``reconcile``: rated vs exported vs ledger.

Adapters:

- ``files``: names, atomic writes, checksum files;
- ``models``, ``repository``: tables on the gateway's base, adds and gets;
- ``recorder``: records written inside the caller's transaction (and from gateway events);
- ``accounts``, ``jobs``, ``reconciliation``: the use cases (configuration, resumable export
  jobs and re-rating, reconciliation reports), used by ``gateway.api.billing`` and
  ``onecard export``.
"""
