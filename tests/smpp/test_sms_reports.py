"""smpp.sms_reports: SMS-DELIVER-REPORT, SMS-SUBMIT-REPORT, SMS-STATUS-REPORT, SMS-COMMAND
(TS 23.040 9.2.2.1a, 9.2.2.2a, 9.2.2.3, 9.2.2.4)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp.sms import (
    Direction,
    SmsCommand,
    SmsDeliverReport,
    SmsStatusReport,
    SmsSubmitReport,
    decode_tpdu,
)
from smpp.sms_errors import FailureCause, SmsFormatError
from smpp.sms_fields import (
    Address,
)
from smpp.sms_reports import CommandType, TransferStatus, describe_status
from smpp.udh import InformationElement, Udh
from tests.smpp.sms_strategies import (
    SCTS,
    addresses,
    times,
    user_data,
)

# --- reports and SMS-COMMAND ------------------------------------------------------------------


def test_deliver_report_rp_ack_with_por() -> None:
    # From an ota_response case: RP-ACK carrying a PoR (TS 31.111 7.1.1.1).
    raw = bytes.fromhex("40077ff610027100000b0ab0001100000000000001")
    report = decode_tpdu(raw, Direction.MS_TO_SC)
    assert isinstance(report, SmsDeliverReport)
    assert report.failure_cause is None and report.pid == 0x7F and report.dcs == 0xF6
    assert report.user_data.hex() == "027100000b0ab0001100000000000001"
    assert report.encode() == raw


def test_deliver_report_rp_error() -> None:
    por = Udh((InformationElement(0x71),))
    report = SmsDeliverReport(FailureCause.SIM_DATA_DOWNLOAD_ERROR, 0x7F, 0xF6, por, b"\x00\x01")
    raw = report.encode()
    assert raw.hex() == "40d5077ff605027100" + "0001"
    assert SmsDeliverReport.decode(raw) == report
    assert SmsDeliverReport.decode(raw, rp_error=True) == report
    bare = SmsDeliverReport(FailureCause.MEMORY_CAPACITY_EXCEEDED)
    assert bare.encode().hex() == "00d300"
    assert decode_tpdu(bare.encode(), Direction.MS_TO_SC) == bare
    assert any("MEMORY_CAPACITY_EXCEEDED" in line for line in bare.describe())


def test_submit_report() -> None:
    ack = SmsSubmitReport(SCTS)
    assert ack.encode().hex() == "010062204141000023"
    assert decode_tpdu(ack.encode(), Direction.SC_TO_MS) == ack
    error = SmsSubmitReport(SCTS, FailureCause.SC_BUSY, dcs=0x08, payload="忙".encode("utf-16-be"))
    raw = error.encode()
    assert raw.hex() == "01c006" + "62204141000023" + "08" + "02" + "5fd9"
    decoded = decode_tpdu(raw, Direction.SC_TO_MS, rp_error=True)
    assert decoded == error and isinstance(decoded, SmsSubmitReport) and decoded.text == "忙"


def test_status_report() -> None:
    report = SmsStatusReport(
        0x21, Address.parse("+8613912345678"), SCTS, SCTS + dt.timedelta(seconds=5), 0x00
    )
    raw = report.encode()
    assert raw.hex() == "0621" + "0d91683119325476f8" + "62204141000023" + "62204141005023" + "00"
    assert decode_tpdu(raw, Direction.SC_TO_MS) == report
    with_text = SmsStatusReport(
        1, Address("1"), SCTS, SCTS, TransferStatus.VALIDITY_EXPIRED, dcs=0, payload=b"ok"
    )
    assert SmsStatusReport.decode(with_text.encode()) == with_text
    assert describe_status(0x46) == "validity_expired (permanent error, SC not trying)"
    assert describe_status(0x30) == "temporary error, SC still trying"
    assert describe_status(0x90) == "reserved"


def test_command() -> None:
    command = SmsCommand(
        7, CommandType.DELETE, 0x21, Address("10658888"), status_report_request=True
    )
    raw = command.encode()
    assert raw.hex() == "2207000221" + "088101568888" + "00"
    assert decode_tpdu(raw, Direction.MS_TO_SC) == command
    assert "delete" in "\n".join(command.describe())
    with pytest.raises(SmsFormatError):
        SmsCommand.decode(raw + b"\x00")


optional_octet = st.one_of(st.none(), st.integers(0, 255))


@settings(max_examples=150, deadline=None)
@given(
    fcs=st.one_of(st.none(), st.integers(0x80, 0xFF)),
    pid=optional_octet,
    ud=user_data(st.integers(0, 255)),
    dcs_present=st.booleans(),
    scts=times,
)
def test_report_round_trips(
    fcs: int | None,
    pid: int | None,
    ud: tuple[int, Udh | None, bytes],
    dcs_present: bool,
    scts: dt.datetime,
) -> None:
    dcs, udh, payload = ud
    if not dcs_present:
        dcs_value: int | None = None
        payload = bytes(b & 0x7F for b in payload)[: 160 - (len(udh) * 8 + 6) // 7 if udh else 160]
    else:
        dcs_value = dcs
    deliver_report = SmsDeliverReport(fcs, pid, dcs_value, udh, payload)
    assert decode_tpdu(deliver_report.encode(), Direction.MS_TO_SC) == deliver_report
    submit_report = SmsSubmitReport(scts, fcs, pid, dcs_value, udh, payload)
    assert decode_tpdu(submit_report.encode(), Direction.SC_TO_MS) == submit_report


@settings(max_examples=150, deadline=None)
@given(
    reference=st.integers(0, 255),
    recipient=addresses,
    scts=times,
    discharge=times,
    status=st.integers(0, 255),
    pid=optional_octet,
    ud=user_data(st.sampled_from([0x00, 0x04, 0x08, 0xF6])),
    flags=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_status_report_round_trip(
    reference: int,
    recipient: Address,
    scts: dt.datetime,
    discharge: dt.datetime,
    status: int,
    pid: int | None,
    ud: tuple[int, Udh | None, bytes],
    flags: list[bool],
) -> None:
    dcs, udh, payload = ud
    report = SmsStatusReport(
        reference, recipient, scts, discharge, status, pid, dcs, udh, payload, *flags
    )
    assert decode_tpdu(report.encode(), Direction.SC_TO_MS) == report


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(0, 255), min_size=4, max_size=4),
    destination=addresses,
    data=st.binary(max_size=157),
    flags=st.lists(st.booleans(), min_size=2, max_size=2),
)
def test_command_round_trip(
    values: list[int], destination: Address, data: bytes, flags: list[bool]
) -> None:
    mr, ct, mn, pid = values
    command = SmsCommand(mr, ct, mn, destination, pid, data, *flags)
    assert decode_tpdu(command.encode(), Direction.MS_TO_SC) == command
