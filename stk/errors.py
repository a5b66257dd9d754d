"""The one exception base of ``stk``; each error carries the wire code a peer answers with.

A card that cannot parse what the terminal sent answers with a status word; a terminal that
cannot parse a proactive command answers TERMINAL RESPONSE with a general result
(ETSI TS 102 223 clause 8.12). Both codes live on the class so adapters only look them up.
"""

from __future__ import annotations


class StkError(Exception):
    """Base of every error raised by ``stk``."""

    # TS 102 223 8.12: '32' command data not understood by terminal.
    general_result: int = 0x32
    # ETSI TS 102 221 10.2.1: '6F00' technical problem, no precise diagnosis.
    status_word: int = 0x6F00


class TextCodingError(StkError):
    """Text that cannot be represented in, or decoded from, the requested coding."""

    # TS 102 221 10.2.1: '6A80' incorrect parameters in the data field.
    status_word = 0x6A80
