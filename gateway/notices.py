"""Every SMS text the gateway sends to members, in one place (Chinese, as members read them).

A notice is a member of :class:`Notice` with its template in ``TEMPLATES``: a ``str.format``
string whose fields are named. :func:`render` fills it and refuses a missing field, so a
template and its callers cannot drift apart silently. The enterprise's 【signature】 is not part
of the template: ``gateway.services.outbox.enqueue`` adds it.

To add a notice (the OTA flows add issuance, top-up and deletion texts here): add a member to
``Notice``, its template to ``TEMPLATES`` (a test checks that every member has one), and call
``render(Notice.X, field=...)`` where the SMS is enqueued. Helpers format what members see:
amounts in yuan with two decimals (:func:`yuan`), times in China time (:func:`cn_time`), card
numbers by their last four digits (:func:`tail`).
"""

from __future__ import annotations

import enum
import string
from datetime import datetime, timedelta, timezone
from typing import Final

CHINA = timezone(timedelta(hours=8), "CST")  # no daylight saving in China


class Notice(enum.StrEnum):
    CARD_LOST = "card_lost"  # 挂失 (seed 7.3)
    CARD_UNFROZEN = "card_unfrozen"  # 解挂
    CARD_REPLACED = "card_replaced"  # 补换卡
    CARD_DEREGISTERED = "card_deregistered"  # 注销


TEMPLATES: Final[dict[Notice, str]] = {
    Notice.CARD_LOST: (
        "您尾号{card}的一卡通已于{time}挂失，门禁、考勤和消费功能已暂停。"
        "如非本人操作，请尽快联系单位管理员。"
    ),
    Notice.CARD_UNFROZEN: "您尾号{card}的一卡通已于{time}解除挂失，可以正常使用。",
    Notice.CARD_REPLACED: (
        "您的一卡通已于{time}补换新卡（尾号{new_card}），原卡（尾号{card}）已停用，"
        "余额{balance}元已转入新卡，各项应用将通过空中下载开通。"
    ),
    Notice.CARD_DEREGISTERED: (
        "您尾号{card}的一卡通已于{time}注销，卡内余额{refund}元已结清退还。感谢您的使用。"
    ),
}


class NoticeError(ValueError):
    """A template asked for a field the caller did not give (a programming error)."""


def fields_of(notice: Notice) -> frozenset[str]:
    """The named fields a notice's template needs."""
    return frozenset(
        name for _, name, _, _ in string.Formatter().parse(TEMPLATES[notice]) if name
    )


def render(notice: Notice, **values: object) -> str:
    missing = fields_of(notice) - values.keys()
    if missing:
        raise NoticeError(f"{notice.value} needs {', '.join(sorted(missing))}")
    return TEMPLATES[notice].format(**values)


def yuan(fen: int) -> str:
    """12345 -> "123.45" (money is integer fen everywhere else)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def cn_time(moment: datetime) -> str:
    """A moment as members read it: "11月25日 08:05", China time."""
    local = moment.astimezone(CHINA)
    return f"{local.month}月{local.day}日 {local.hour:02d}:{local.minute:02d}"


def tail(iccid: str) -> str:
    """The last four digits of a card number: enough to recognise it, not enough to misuse."""
    return iccid[-4:]
