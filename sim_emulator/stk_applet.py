"""The STK menu applet: 一卡通 → 余额查询 / 应用删除 / 账单查询 (ETSI TS 102 223).

After TERMINAL PROFILE the applet sends SET UP MENU, built from the menu file the gateway
maintains over the air (``ota.mo_request.MenuFile``, EF '2F50'). MENU SELECTION starts a
dialogue, one proactive command at a time, each TERMINAL RESPONSE deciding the next:

- 余额查询: DISPLAY TEXT of the purse balance held on the card.
- 应用删除: SELECT ITEM of the installed sub-applications → GET INPUT of the service
  password (digits, hidden) → SEND SHORT MESSAGE of a ciphered request to the service number
  (``ota.mo_request``; the password never travels in clear) → DISPLAY TEXT of the outcome.
  The deletion itself comes back later as an OTA command, and a confirmation SMS.
- 账单查询: SELECT ITEM of the bill kind → SEND SHORT MESSAGE of the request → DISPLAY TEXT.

The user leaving (result '10'/'11'/'12') or the terminal failing ends the dialogue quietly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ota.errors import OtaError
from ota.mo_request import (
    MENU_FILE_FID,
    BillKind,
    MenuFile,
    MoRequest,
    RequestType,
    build_request,
)
from ota.onecard_apdu import SubApp
from ota.smspp import TP_DCS_CLASS2_8BIT, TP_PID_SIM_DATA_DOWNLOAD, command_segments
from sim_emulator.applet import Applet
from sim_emulator.errors import WrongData
from sim_emulator.filesystem import Ef
from smpp.sms import SmsSubmit
from smpp.sms_fields import Address as SmsAddress
from smpp.udh import Udh
from stk.commands import (
    DisplayText,
    GetInput,
    ProactiveCommand,
    SelectItem,
    SendShortMessage,
    SetUpMenu,
)
from stk.envelopes import MenuSelection, decode_envelope
from stk.errors import StkError
from stk.ies import AlphaIdentifier, Item, ResponseLength, TextString
from stk.terminal_response import TerminalResponse, decode_terminal_response

if TYPE_CHECKING:
    from sim_emulator.card import SimCard
    from sim_emulator.onecard import OneCardApplet
    from sim_emulator.ota_applet import OtaApplet

APP_NAMES = {SubApp.DOOR: "门禁", SubApp.ATTENDANCE: "考勤", SubApp.PURSE: "消费"}
BILL_NAMES = {BillKind.ATTENDANCE: "考勤账单", BillKind.CONSUMPTION: "消费账单"}
TEXT_NO_PURSE = "未开通消费应用"
TEXT_NO_APPS = "没有可删除的应用"
TEXT_SENT = "请求已提交，结果将以短信通知"
TEXT_BILL_SENT = "账单将以短信发送"
TEXT_FAILED = "请求发送失败，请稍后再试"
PROMPT_PASSWORD = "请输入服务密码"
PROMPT_APP = "请选择要删除的应用"
PROMPT_BILL = "请选择账单"
SENDING = "正在发送请求"
# Item positions of the default menu; an updated menu keeps the meaning by position.
ACTIONS = (RequestType.BALANCE, RequestType.APP_DELETE, RequestType.BILL)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class StkState:
    mo_counter: int = 0  # CNTR of the last MO request sent (strictly increasing)
    request_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"mo_counter": self.mo_counter, "request_id": self.request_id}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StkState:
        return cls(int(raw.get("mo_counter", 0)), int(raw.get("request_id", 0)))


Next = Callable[[TerminalResponse], None]


class StkApplet(Applet):
    name = "stk"
    envelope_tags = (0xD3,)

    def __init__(self, state: StkState, onecard: OneCardApplet | None = None,
                 ota: OtaApplet | None = None) -> None:
        self.state = state
        self.onecard = onecard
        self.ota = ota
        self._number = 0

    def dump(self) -> dict[str, Any]:
        return self.state.to_dict()

    # -- menu -----------------------------------------------------------------------------

    def menu(self, card: SimCard) -> MenuFile:
        node = card.state.fs.mf.children.get(MENU_FILE_FID)
        if isinstance(node, Ef):
            try:
                return MenuFile.decode(bytes(node.data))
            except OtaError:
                pass  # a damaged menu file must not take the menu away: use the default
        return MenuFile()

    def on_terminal_profile(self, card: SimCard, profile: bytes) -> None:
        self._set_up_menu(card)

    def on_file_update(self, card: SimCard) -> None:
        if card.terminal_profile is not None:
            self._set_up_menu(card)

    def _set_up_menu(self, card: SimCard) -> None:
        menu = self.menu(card)
        items = tuple(Item(i, text) for i, text in enumerate(menu.items, 1))
        self._push(card, SetUpMenu(number=self._next(), alpha=AlphaIdentifier(menu.title),
                                   items=items), None)

    def on_envelope(self, card: SimCard, envelope: bytes) -> bytes:
        try:
            selection = decode_envelope(envelope)
        except StkError as exc:
            raise WrongData(f"MENU SELECTION: {exc}") from exc
        if not isinstance(selection, MenuSelection):
            raise WrongData("envelope 'D3' is not a MENU SELECTION")
        position = selection.item_identifier - 1
        if not 0 <= position < len(self.menu(card).items):
            raise WrongData(f"menu item {selection.item_identifier} does not exist")
        if position >= len(ACTIONS):
            self._display(card, self.menu(card).items[position])
        elif ACTIONS[position] is RequestType.BALANCE:
            self._balance(card)
        elif ACTIONS[position] is RequestType.APP_DELETE:
            self._choose_app(card)
        else:
            self._choose_bill(card)
        return b""

    # -- dialogues ------------------------------------------------------------------------

    def _balance(self, card: SimCard) -> None:
        if self.onecard is None or SubApp.PURSE not in self.onecard.state.sub_apps:
            self._display(card, TEXT_NO_PURSE)
            return
        balance = self.onecard.state.purse.balance
        self._display(card, f"一卡通余额：{yuan(balance)}元")

    def _installed(self, card: SimCard) -> list[SubApp]:
        return [] if self.onecard is None else sorted(self.onecard.state.sub_apps)

    def _choose_app(self, card: SimCard) -> None:
        apps = self._installed(card)
        if not apps:
            self._display(card, TEXT_NO_APPS)
            return
        items = tuple(Item(int(app), APP_NAMES[app]) for app in apps)
        command = SelectItem(number=self._next(), alpha=AlphaIdentifier(PROMPT_APP), items=items)

        def chosen(response: TerminalResponse) -> None:
            if response.item_identifier is None or response.item_identifier not in [
                    int(a) for a in apps]:
                return
            self._ask_password(card, SubApp(response.item_identifier))

        self._push(card, command, chosen)

    def _ask_password(self, card: SimCard, app: SubApp) -> None:
        command = GetInput(number=self._next(), qualifier=GetInput.QUALIFIER_HIDDEN,
                           prompt=TextString(PROMPT_PASSWORD),
                           response_length=ResponseLength(4, 16))

        def entered(response: TerminalResponse) -> None:
            if response.text is None or not response.text.text:
                return
            request = self._request(card, RequestType.APP_DELETE, password=response.text.text,
                                    app=app)
            self._send(card, request, TEXT_SENT)

        self._push(card, command, entered)

    def _choose_bill(self, card: SimCard) -> None:
        items = tuple(Item(int(kind), name) for kind, name in BILL_NAMES.items())
        command = SelectItem(number=self._next(), alpha=AlphaIdentifier(PROMPT_BILL), items=items)

        def chosen(response: TerminalResponse) -> None:
            try:
                kind = BillKind(response.item_identifier or 0)
            except ValueError:
                return
            self._send(card, self._request(card, RequestType.BILL, bill=kind), TEXT_BILL_SENT)

        self._push(card, command, chosen)

    def _request(self, card: SimCard, kind: RequestType, *, password: str | None = None,
                 app: SubApp | None = None, bill: BillKind | None = None) -> MoRequest:
        self.state.request_id = (self.state.request_id + 1) & 0xFFFFFFFF
        return MoRequest(kind, self.state.request_id, card.state.iccid, password, app, bill)

    def _send(self, card: SimCard, request: MoRequest, done_text: str) -> None:
        """SEND SHORT MESSAGE(s) of the secured request, then DISPLAY TEXT of the outcome."""
        keysets = [] if self.ota is None else self.ota.state.keysets
        menu = self.menu(card)
        try:
            if not keysets:
                raise WrongData("no OTA key set to secure the request with")
            self.state.mo_counter += 1
            packet = build_request(request, keysets[0].keyset, self.state.mo_counter)
            segments = command_segments(packet, reference=self.state.mo_counter & 0xFF)
        except (OtaError, WrongData):
            self._display(card, TEXT_FAILED)
            return
        self._send_segments(card, menu.service_number, segments, done_text)

    def _send_segments(self, card: SimCard, number: str, segments: list[bytes],
                       done_text: str) -> None:
        tp_ud, rest = segments[0], segments[1:]
        udh, payload = Udh.decode(tp_ud)
        submit = SmsSubmit(SmsAddress.parse(number), self.state.mo_counter & 0xFF,
                           TP_PID_SIM_DATA_DOWNLOAD, TP_DCS_CLASS2_8BIT, udh, payload)
        command = SendShortMessage(number=self._next(), alpha=AlphaIdentifier(SENDING),
                                   tpdu=submit.encode())

        def sent(response: TerminalResponse) -> None:
            if not response.result.performed:
                self._display(card, TEXT_FAILED)
            elif rest:
                self._send_segments(card, number, rest, done_text)
            else:
                self._display(card, done_text)

        self._push(card, command, sent, any_result=True)

    def _display(self, card: SimCard, text: str) -> None:
        command = DisplayText(number=self._next(), qualifier=DisplayText.QUALIFIER_WAIT_FOR_USER,
                              text=TextString(text))
        self._push(card, command, None)

    # -- plumbing -------------------------------------------------------------------------

    def _next(self) -> int:
        # TS 102 223 6.5.1: command numbers 01..FE.
        self._number = self._number % 0xFE + 1
        return self._number

    def _push(self, card: SimCard, command: ProactiveCommand, then: Next | None,
              *, any_result: bool = False) -> None:
        def on_response(data: bytes) -> None:
            try:
                response = decode_terminal_response(data)
            except StkError as exc:
                raise WrongData(f"TERMINAL RESPONSE: {exc}") from exc
            if then is None:
                return
            if response.result.performed or any_result:
                then(response)

        card.proactive.push(command.encode(), on_response)
