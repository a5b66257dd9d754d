"""Carrier export files: template layouts (CSV, fixed-width) and the TS 32.297 BER file.

A carrier's configuration names its layouts: ``"ber"`` for the TS 32.297 file, anything else
is a jinja2 layout template (``csv_v1`` and ``fixed_v1`` ship in ``templates/``; a carrier's
own are looked up first in the directories of ``search_path``). See ``LAYOUT.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from billing.export.base import FileContext, FileEncoder, LayoutKind
from billing.export.text import TemplateEncoder, load_layout
from billing.export.ts32297 import BerEncoder

BER_LAYOUT = "ber"
DEFAULT_LAYOUTS = ("csv_v1", "fixed_v1", BER_LAYOUT)


def make_encoder(
    layout: str, context: FileContext, search_path: Sequence[str | Path] = ()
) -> FileEncoder:
    """The encoder for one file of ``layout``."""
    if layout == BER_LAYOUT:
        return BerEncoder(context)
    return TemplateEncoder(load_layout(layout, tuple(map(str, search_path)), context.tz), context)


__all__ = [
    "BER_LAYOUT",
    "DEFAULT_LAYOUTS",
    "FileContext",
    "FileEncoder",
    "LayoutKind",
    "make_encoder",
]
