"""argparse value types shared by the subcommands."""

from __future__ import annotations

import argparse

from ota.errors import OtaError
from ota.spi import Spi


def hex_bytes(value: str) -> bytes:
    """Octets in hex; spaces and colons between them are allowed."""
    cleaned = "".join(value.split()).replace(":", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not hexadecimal: {value!r}") from None


def hex_octet(value: str) -> int:
    data = hex_bytes(value)
    if len(data) != 1:
        raise argparse.ArgumentTypeError(f"one octet in hex expected, got {value!r}")
    return data[0]


def spi(value: str) -> Spi:
    try:
        return Spi.decode(hex_bytes(value))
    except OtaError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
