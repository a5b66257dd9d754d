"""MO keywords members send to the service number to refuse or take back bills and notices.

Chinese carriers and SMS platforms ask every enterprise SMS to say how to refuse further ones,
and honour these replies:

- ``TD`` (退订, unsubscribe) and ``R`` (拒收, refuse: the form SMS platforms print as
  "拒收请回复R"), also ``T``, ``N``, ``STOP`` and the words 退订 / 拒收 / 取消: **opt out**;
- ``DY`` (订阅, subscribe), also ``KT`` (开通) and the words 订阅 / 开通 / 恢复: **opt back in**.

R therefore refuses, like TD; it never resubscribes (a member who replied R to stop messages
must not be subscribed again by it). Matching ignores case, surrounding spaces and punctuation
and reads full-width letters as their ASCII forms (Unicode NFKC: "ＴＤ" is "TD"), because
Chinese input methods often type full-width. Anything else is not a keyword: the message is
left to the gateway's other MO handlers.
"""

from __future__ import annotations

import enum
import unicodedata

_STRIP = " \t\r\n.,;:!?'\"。，；：！？、“”‘’·…-_()（）【】[]"


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


OPT_OUT_WORDS = frozenset({"TD", "R", "T", "N", "STOP", "UNSUBSCRIBE", "退订", "拒收", "取消",
                           "退订短信", "拒收短信"})
OPT_IN_WORDS = frozenset({"DY", "KT", "START", "订阅", "开通", "恢复", "订阅短信", "恢复短信"})
MAX_KEYWORD = 16  # longer texts are messages, not keywords


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip(_STRIP).upper()


def parse(text: str | None) -> Keyword | None:
    """The keyword a member's text is, or None."""
    if not text or len(text) > 4 * MAX_KEYWORD:
        return None
    word = normalise(text)
    if not word or len(word) > MAX_KEYWORD:
        return None
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return Keyword.OPT_IN
    return None
