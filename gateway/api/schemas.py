"""Request schemas (JSON Schema 2020-12 subset): enforced by ``gateway.api.validation`` and
published in the OpenAPI document, from these same objects.
"""

from __future__ import annotations

from typing import Any

from gateway.domain import (
    AppKind,
    CardState,
    EnterpriseStatus,
    MemberStatus,
    Module,
    RecordKind,
    Role,
    TerminalKind,
    TerminalStatus,
)

Schema = dict[str, Any]


def enum_of(kind: type[Any]) -> Schema:
    return {"type": "string", "enum": [m.value for m in kind]}


def text(low: int, high: int) -> Schema:
    return {"type": "string", "minLength": low, "maxLength": high}


def nullable(schema: Schema) -> Schema:
    return {**schema, "type": [schema["type"], "null"]}


def obj(required: tuple[str, ...] = (), **props: Schema) -> Schema:
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False}


ID = {"type": "integer", "minimum": 1, "maximum": 2**62}
SEQ = {"type": "integer", "minimum": 1, "maximum": 2**62}
FEN = {"type": "integer", "minimum": 1, "maximum": 100_000_000}
HEX_KEY = {"type": "string", "pattern": "^([0-9a-fA-F]{2}){8,32}$"}
CODE = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{2,32}$"}
MSISDN = text(6, 24)
ICCID = text(18, 22)
REASON = text(1, 200)

KEYS = obj(
    ("kic", "kid"),
    kic=HEX_KEY,
    kid=HEX_KEY,
    kic_algorithm={"type": "string", "enum": ["DES_CBC", "TDES_2KEY_CBC", "TDES_3KEY_CBC",
                                              "AES_CBC"]},
    kid_algorithm={"type": "string", "enum": ["DES_CBC_MAC", "TDES_2KEY_CBC_MAC",
                                              "TDES_3KEY_CBC_MAC", "AES_CMAC"]},
    key_index={"type": "integer", "minimum": 0, "maximum": 15},
)
KEYS["description"] = ("OTA keys of a card personalised elsewhere; when absent they are derived "
                       "from the enterprise key master root and the ICCID")

MODULES = {"type": "array", "items": enum_of(Module), "uniqueItems": True, "maxItems": 8}
EXPIRY = nullable({"type": "integer", "minimum": 1, "maximum": 3650})
MONTHLY_FEE = {"type": "integer", "minimum": 300, "maximum": 500,
               "description": "service fee per member and month, fen (seed 5.1.2: 3-5 yuan)"}
SIGNATURE = text(2, 16)

ENTERPRISE_CREATE = obj(
    ("code", "name", "sms_signature"),
    code=CODE, name=text(1, 128), sms_signature=SIGNATURE, modules=MODULES,
    monthly_fee_fen=MONTHLY_FEE, balance_expiry_days=EXPIRY,
    master_key={"type": "string", "pattern": "^([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$",
                "description": "import the root key of an existing key master card (AES)"},
    master_key_ref=text(1, 64),
)
ENTERPRISE_PATCH = {**obj(
    name=text(1, 128), sms_signature=SIGNATURE, modules=MODULES, monthly_fee_fen=MONTHLY_FEE,
    balance_expiry_days=EXPIRY, status=enum_of(EnterpriseStatus),
), "minProperties": 1}

ADMIN_CREATE = obj(
    ("login", "name", "role"),
    login={"type": "string", "pattern": "^[A-Za-z0-9_.@-]{3,64}$"}, name=text(1, 64),
    role={"type": "string", "enum": [Role.OPERATOR.value, Role.ENTERPRISE_ADMIN.value]},
    enterprise_id=ID,
)
ADMIN_PATCH = {**obj(name=text(1, 64), disabled={"type": "boolean"}), "minProperties": 1}
TOKEN_CREATE = obj(label={**text(1, 64), "default": "api"},
                   ttl_days={"type": "integer", "minimum": 1, "maximum": 3650})

MEMBER_CREATE = obj(
    ("msisdn", "name"),
    msisdn=MSISDN, name=text(1, 64), employee_no=text(1, 32), department=text(1, 64),
    enterprise_id=ID,
)
MEMBER_PATCH = {**obj(
    name=text(1, 64), employee_no=nullable(text(1, 32)), department=nullable(text(1, 64)),
    sms_opt_out={"type": "boolean"}, status=enum_of(MemberStatus),
), "minProperties": 1}
SERVICE_PASSWORD = obj(("password",), password={"type": "string", "pattern": r"^\d{6}$"})

CARD_CREATE = obj(
    ("iccid", "member_id"),
    iccid=ICCID, member_id=ID, keys=KEYS, note=text(0, 200),
    apps={"type": "array", "items": enum_of(AppKind), "uniqueItems": True},
    app_data={"type": "object", "description": "per app, its data (e.g. door groups)"},
)
CARD_PATCH = {**obj(note=nullable(text(0, 200))), "minProperties": 1}
LOSS = obj(reason=REASON)
UNFREEZE = obj()
REPLACE = obj(("new_iccid",), new_iccid=ICCID, keys=KEYS, reason=REASON)
DEREGISTER = obj(reason=REASON)

TERMINAL_CREATE = obj(
    ("code", "kind", "name"),
    code=CODE, kind=enum_of(TerminalKind), name=text(1, 64), location=text(1, 128),
    enterprise_id=ID,
)
TERMINAL_PATCH = {**obj(name=text(1, 64), location=nullable(text(1, 128)),
                        status=enum_of(TerminalStatus)), "minProperties": 1}

AT = {"type": ["string", "integer"], "format": "date-time",
      "description": "when it happened on the terminal: RFC 3339 or Unix seconds"}
RECORD = obj(
    ("seq", "type", "iccid", "at"),
    seq=SEQ, type=enum_of(RecordKind), iccid=ICCID, at=AT,
    amount_fen={**FEN, "description": "purchase and top-up amount"},
    card_balance_fen={"type": "integer", "minimum": 0, "maximum": 100_000_000,
                      "description": "purse balance the card reported after the operation"},
    undo_seq={**SEQ, "description": "undo: the sequence number of the purchase undone"},
    result={"type": "string", "enum": ["granted", "denied"]},
    direction={"type": "string", "enum": ["in", "out"]},
)
UPLOAD = obj(("records",), records={"type": "array", "items": RECORD, "minItems": 1,
                                    "maxItems": 1000})
UNDO = obj(("seq", "iccid", "at", "undo_seq"), seq=SEQ, iccid=ICCID, at=AT, undo_seq=SEQ,
           card_balance_fen=RECORD["properties"]["card_balance_fen"])

# Query strings.
PAGE = {"limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        "after": {"type": "integer", "minimum": 0,
                  "description": "the `next` value of the previous page"}}


def query(**props: Schema) -> Schema:
    return {"type": "object", "properties": {**PAGE, **props}, "additionalProperties": False}


NO_QUERY: Schema = {"type": "object", "properties": {}, "additionalProperties": False}
Q_ENTERPRISES = query(code=CODE, status=enum_of(EnterpriseStatus))
Q_ADMINS = query(enterprise_id=ID)
Q_MEMBERS = query(enterprise_id=ID, msisdn=MSISDN, status=enum_of(MemberStatus),
                  department=text(1, 64))
Q_CARDS = query(enterprise_id=ID, member_id=ID, state=enum_of(CardState))
Q_TERMINALS = query(enterprise_id=ID, kind=enum_of(TerminalKind))
Q_RECORDS = query(enterprise_id=ID, terminal_id=ID, type=enum_of(RecordKind), iccid=ICCID,
                  flagged={"type": "boolean"},
                  since={"type": "string", "format": "date-time"},
                  until={"type": "string", "format": "date-time"})
Q_AUDIT = query(enterprise_id=ID, action=text(1, 64))
Q_BLACKLIST = {"type": "object", "additionalProperties": False, "properties": {
    "enterprise_id": ID, "since": {"type": "integer", "minimum": 0, "default": 0},
    "limit": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000}}}
Q_TERMINAL_BLACKLIST = {"type": "object", "additionalProperties": False, "properties": {
    "since": {"type": "integer", "minimum": 0, "default": 0},
    "limit": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000}}}
Q_IMPORT = {"type": "object", "additionalProperties": False, "properties": {"enterprise_id": ID}}
Q_STATEMENT = query()
