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
    # Over the air (gateway.services.ota_effects, gateway.services.stk_requests).
    APPS_ISSUED = "apps_issued"  # 空中发卡 confirmed by the card
    TOPUP_CONFIRMED = "topup_confirmed"  # 空中充值 on the card
    TOPUP_REVERSED = "topup_reversed"  # the card could not be credited: money back
    APP_DELETED = "app_deleted"  # STK 应用删除 done
    PURSE_DELETED = "purse_deleted"  # ... of the purse: balance settled
    APP_DELETE_FAILED = "app_delete_failed"
    DELETE_CARD_BLOCKED = "delete_card_blocked"  # card lost or closed: nothing deleted
    DELETE_NOT_ACTIVE = "delete_not_active"
    DELETE_TOPUP_PENDING = "delete_topup_pending"
    PASSWORD_WRONG = "password_wrong"
    PASSWORD_LOCKED = "password_locked"
    PASSWORD_UNSET = "password_unset"
    BALANCE = "balance"  # 余额查询 from the STK menu or by SMS
    NO_CARD = "no_card"  # a balance query from a number without a card
    BILL_UNAVAILABLE = "bill_unavailable"  # 账单查询 for a bill the enterprise does not have


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
    Notice.APPS_ISSUED: "您尾号{card}的一卡通已于{time}通过空中发卡开通{apps}应用，即可使用。",
    Notice.TOPUP_CONFIRMED: (
        "您尾号{card}的一卡通于{time}空中充值{amount}元成功，卡内余额{balance}元。"
    ),
    Notice.TOPUP_REVERSED: (
        "您尾号{card}的一卡通{time}的空中充值{amount}元未能写入卡片，款项已退回，"
        "请稍后重试或联系单位管理员。"
    ),
    Notice.APP_DELETED: "您尾号{card}的一卡通{app}应用已于{time}删除。",
    Notice.PURSE_DELETED: (
        "您尾号{card}的一卡通{app}应用已于{time}删除，卡内余额{refund}元已结清退还。"
    ),
    Notice.APP_DELETE_FAILED: (
        "您尾号{card}的一卡通{app}应用删除未能完成（{time}），请稍后再试或联系单位管理员。"
    ),
    Notice.DELETE_CARD_BLOCKED: (
        "您尾号{card}的一卡通已挂失或停用，{app}应用未删除。如需帮助请联系单位管理员。"
    ),
    Notice.DELETE_NOT_ACTIVE: "您尾号{card}的一卡通未开通{app}应用，无需删除。",
    Notice.DELETE_TOPUP_PENDING: (
        "您尾号{card}的一卡通有一笔充值正在写入，{app}应用暂不能删除，请稍后再试。"
    ),
    Notice.PASSWORD_WRONG: (
        "服务密码错误，{app}应用未删除。连续输错{limit}次将暂停使用，您还可尝试{left}次。"
    ),
    Notice.PASSWORD_LOCKED: (
        "服务密码连续输错次数过多，已暂停使用{minutes}分钟，{app}应用未删除。"
    ),
    Notice.PASSWORD_UNSET: "您尚未设置一卡通服务密码，{app}应用未删除。请联系单位管理员设置。",
    Notice.BALANCE: "您尾号{card}的一卡通余额为{balance}元（{time}）。",
    Notice.NO_CARD: "尾号{number}的号码未开通一卡通业务，无法查询余额。",
    Notice.BILL_UNAVAILABLE: "您尾号{card}的一卡通暂无可查询的账单（{time}），请稍后再试。",
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
