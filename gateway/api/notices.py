"""Enterprise notices over the API: upload a CSV in a standard template (``docs/notices.md``),
read its validation report, send all or the valid rows, follow delivery."""

from __future__ import annotations

from aiohttp import web

from gateway import keys
from gateway.api.base import BodyKind, Ctx, Idem, RouteSpec, ok
from gateway.api.schemas import ID, obj, query, text
from gateway.bills import notices
from gateway.bills.render import NOTICE_KINDS, TemplateKind

V1 = "/api/v1/notices"
NOTICE = "{notice_id:\\d+}"
Q_UPLOAD = {"type": "object", "additionalProperties": False, "required": ["template"],
            "properties": {
                "enterprise_id": ID,
                "template": {"type": "string", "enum": [k.value for k in NOTICE_KINDS]},
                "title": text(0, 32),
                "urgent": {"type": "boolean", "description": "send in quiet hours too"}}}
Q_LIST = query(enterprise_id=ID)
NOTICE_CSV = {
    "description": "the standard template named by ?template= (docs/notices.md): UTF-8 or "
                   "GBK/GB18030, comma separated, headers in Chinese or English in any order, "
                   "at most 20,000 rows. piece_rate: 工号,姓名,项目,数量,单价 or 金额 (or "
                   "单价(分)/金额(分)); wages: 工号,姓名,应发,扣款,实发,备注; general: "
                   "工号,姓名,内容 (姓名 optional everywhere). Every problem is reported with "
                   "its row and column; nothing is sent on upload",
    "example": "工号,姓名,项目,数量,单价,金额\nE001,张三,装配,1200,0.85,1020.00\n"}
SEND = obj(("mode",), mode={"type": "string", "enum": ["all", "valid"],
                            "description": "all: only if the file had no error; "
                                           "valid: the employees without errors"})


async def upload_notice(request: web.Request) -> web.Response:
    c = Ctx(request)
    q = c.query
    cmd = notices.UploadIn(kind=TemplateKind(q["template"]), data=c.input.raw,
                           enterprise_id=q.get("enterprise_id"), title=q.get("title", ""),
                           urgent=q.get("urgent", False))
    return ok(await notices.upload(c.deps, c.principal, cmd, c.idem), 201)


async def list_notices(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await notices.list_batches(c.deps, c.principal, c.query.get("enterprise_id"),
                                         c.page))


async def get_notice(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await notices.get(c.deps, c.principal, c.int_param("notice_id")))


async def notice_items(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await notices.items(c.deps, c.principal, c.int_param("notice_id"), c.page))


async def send_notice(request: web.Request) -> web.Response:
    c = Ctx(request)
    view = await notices.send(c.deps, c.principal, c.int_param("notice_id"), c.body["mode"],
                              c.idem)
    _wake_outbox(request)
    return ok(view)


def _wake_outbox(request: web.Request) -> None:
    dispatcher = request.app.get(keys.OUTBOX)
    if dispatcher is not None:
        dispatcher.wake()


async def discard_notice(request: web.Request) -> web.Response:
    c = Ctx(request)
    return ok(await notices.discard(c.deps, c.principal, c.int_param("notice_id"), c.idem))


T = "notices"
ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("POST", V1, upload_notice,
              "upload a CSV notice: validation report, nothing sent", T,
              body_kind=BodyKind.CSV, body=NOTICE_CSV, query=Q_UPLOAD, idem=Idem.OPTIONAL,
              status=201),
    RouteSpec("GET", V1, list_notices, "uploaded notices, newest first", T, query=Q_LIST),
    RouteSpec("GET", f"{V1}/{NOTICE}", get_notice,
              "a notice: validation report and delivery", T),
    RouteSpec("GET", f"{V1}/{NOTICE}/items", notice_items, "the texts, one per employee", T,
              query=query()),
    RouteSpec("POST", f"{V1}/{NOTICE}/send", send_notice, "send all or the valid rows", T,
              body=SEND, body_kind=BodyKind.JSON, idem=Idem.OPTIONAL),
    RouteSpec("POST", f"{V1}/{NOTICE}/discard", discard_notice, "discard without sending", T,
              idem=Idem.OPTIONAL),
)
