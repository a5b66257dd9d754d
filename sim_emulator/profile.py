"""The file system of a fresh card: MF, DF TELECOM, DF GSM, ADF USIM, ADF one-card.

File identifiers and contents follow ETSI TS 102 221 clause 13 (EF.DIR, EF.ICCID, EF.PL),
3GPP TS 31.102 clause 4 (ADF USIM) and TS 51.011 (DF GSM, DF TELECOM). The one-card ADF holds
the applet's readable files (application information and the transaction log, laid out as in
``docs/sim_emulator-purchase.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ota.mo_request import MENU_FILE_FID, MenuFile
from ota.onecard_apdu import APPLET_AID
from sim_emulator.encoding import encode_iccid, encode_imsi, encode_number
from sim_emulator.filesystem import MF_FID, Access, Df, FileSystem, linear, transparent

# TS 101 220 Annex E: RID A0 00 00 00 87 (3GPP), application code 10 02 (USIM).
USIM_AID = bytes.fromhex("a0000000871002ff86ffff89ffffffff")
ONECARD_AID = APPLET_AID
ONECARD_ADF_FID = 0x7F4F
LOG_RECORD_LENGTH = 23
LOG_RECORDS = 10
LOG_SFI = 0x18
APP_INFO_SFI = 0x15
SMSC_ADDRESS = "+8613800100500"


@dataclass(frozen=True, slots=True)
class Identity:
    iccid: str
    imsi: str
    msisdn: str  # international digits without '+', e.g. 8613800000001


def _dir_record(aid: bytes, label: str) -> bytes:
    # TS 102 221 13.1: application template '61' with AID '4F' and label '50'.
    body = bytes((0x4F, len(aid))) + aid + bytes((0x50, len(label))) + label.encode()
    return bytes((0x61, len(body))) + body


def _smsp_record() -> bytes:
    """EF.SMSP record (TS 31.102 4.2.27): indicators, TP-DA, SC address, PID, DCS, VP."""
    # b1 = 1: no TP-DA; b2..b5 = 0: SC address, PID, DCS and VP present (0 means present).
    indicators = 0xE1
    da = b"\xff" * 12
    sc = encode_number(SMSC_ADDRESS)[:12].ljust(12, b"\xff")
    return bytes((indicators,)) + da + sc + b"\x00\x00\xa7"


def _usim(identity: Identity) -> Df:
    adf = Df(0x7FF0, "ADF.USIM", USIM_AID)
    adf.add(transparent(0x6F07, "EF.IMSI", encode_imsi(identity.imsi), sfi=0x07,
                        read=Access.PIN1))
    adf.add(transparent(0x6FAD, "EF.AD", b"\x00\x00\x00\x02", sfi=0x03))
    adf.add(transparent(0x6F38, "EF.UST", bytes.fromhex("9e3f1c0000000000"), sfi=0x04,
                        read=Access.PIN1))
    adf.add(transparent(0x6F05, "EF.LI", b"zhen", sfi=0x02, update=Access.PIN1))
    adf.add(transparent(0x6F46, "EF.SPN", b"\x01" + b"China Mobile".ljust(16, b"\xff")))
    adf.add(linear(0x6F40, "EF.MSISDN", 14 + 10,
                   [b"\xff" * 10 + encode_number("+" + identity.msisdn) + b"\xff\xff"],
                   read=Access.PIN1, update=Access.PIN1))
    adf.add(linear(0x6F42, "EF.SMSP", 28 + 12, [b"\xff" * 12 + _smsp_record()],
                   read=Access.PIN1, update=Access.PIN1))
    adf.add(linear(0x6F3C, "EF.SMS", 176, [b"\x00"] * 10, read=Access.PIN1,
                   update=Access.PIN1))
    return adf


def _onecard_adf() -> Df:
    adf = Df(ONECARD_ADF_FID, "ADF.ONECARD", ONECARD_AID)
    # Application information: issuer, card type, version; written by the issuing desk.
    adf.add(transparent(0xEF15, "EF.APPINFO", bytes(30), sfi=APP_INFO_SFI))
    # Cyclic transaction log, record 1 = most recent (layout in docs/sim_emulator-purchase.md).
    adf.add(linear(0xEF18, "EF.LOG", LOG_RECORD_LENGTH, [b"\x00" * LOG_RECORD_LENGTH] * LOG_RECORDS,
                   sfi=LOG_SFI, update=Access.NEVER, cyclic=True))
    return adf


def build_filesystem(identity: Identity) -> FileSystem:
    mf = Df(MF_FID, "MF")
    mf.add(transparent(0x2FE2, "EF.ICCID", encode_iccid(identity.iccid), update=Access.NEVER))
    mf.add(transparent(0x2F05, "EF.PL", b"zhen", update=Access.PIN1))
    # The STK menu and service number, rewritten by the gateway over the air (RFM).
    mf.add(transparent(MENU_FILE_FID, "EF.STKMENU", MenuFile().encode()))
    mf.add(linear(0x2F00, "EF.DIR", 32, [_dir_record(USIM_AID, "USIM"),
                                          _dir_record(ONECARD_AID, "ONECARD")]))
    telecom = Df(0x7F10, "DF.TELECOM")
    mf.add(telecom)
    telecom.add(linear(0x6F3A, "EF.ADN", 28, [b"\xff" * 28] * 10, read=Access.PIN1,
                       update=Access.PIN1))
    telecom.add(linear(0x6F3C, "EF.SMS", 176, [b"\x00"] * 10, read=Access.PIN1,
                       update=Access.PIN1))
    telecom.add(linear(0x6F42, "EF.SMSP", 28 + 12, [b"\xff" * 12 + _smsp_record()],
                       read=Access.PIN1, update=Access.PIN1))
    gsm = Df(0x7F20, "DF.GSM")
    mf.add(gsm)
    gsm.add(transparent(0x6F07, "EF.IMSI", encode_imsi(identity.imsi), read=Access.PIN1))
    gsm.add(transparent(0x6FAD, "EF.AD", b"\x00\x00\x00\x02"))
    mf.add(_usim(identity))
    mf.add(_onecard_adf())
    return FileSystem(mf)
