"""Subcommands of the ``onecard`` console script, one module each.

Each module defines ``configure(parser: argparse.ArgumentParser) -> None`` and
``run(args: argparse.Namespace) -> int``. ``gateway.cli`` lists the modules; it imports them
lazily so that ``onecard decode`` does not pay for aiohttp or SQLAlchemy.
"""
