"""Checks of the ``ota_command``, ``ota_response`` and ``ota_upstream_kat`` conformance cases.

``check_case(case)`` takes one case of tests/data/sim-conformance.json (schema in
tests/data/sim-conformance.SCHEMA.md) and returns failure descriptions (empty: pass). It runs
both roles: the sending side must produce ``expected`` byte for byte (intermediate values too)
and the receiving side must accept it and recover the input. Used by tests/ota/test_vectors.py
and by the cross-package vector runner.

Columns left to other packages: ``sms_deliver_tpdu``, ``envelope_sms_pp_download``,
``envelope_apdu``, ``sms_deliver_report_rp_ack_tpdu`` and ``sms_submit_tpdu`` (TPDUs and
envelopes belong to ``smpp`` and ``stk``); the ``pysim`` block is diagnostic only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ota.counters import encode_counter
from ota.errors import OtaError
from ota.keys import OtaKeyset
from ota.packet import SecuredCommand, TarSecurity, secure_command, verify_command
from ota.por import secure_por, verify_por
from ota.remote import CompactResponse
from ota.smspp import MAX_SINGLE_PACKET, command_segments, reassemble
from ota.spi import (
    CounterMode,
    Integrity,
    KicAlgorithm,
    KidCcAlgorithm,
    PorRequest,
    PorTransport,
    Spi,
)
from ota.status import PorStatus
from smpp.udh import Udh

GROUPS = ("ota_command", "ota_response", "ota_upstream_kat")

# The vectors name algorithms and SPI values as pySim does.
KIC_NAMES = {
    "single_des": KicAlgorithm.DES_CBC,
    "triple_des_cbc2": KicAlgorithm.TDES_2KEY_CBC,
    "triple_des_cbc3": KicAlgorithm.TDES_3KEY_CBC,
    "aes_cbc": KicAlgorithm.AES_CBC,
}
KID_NAMES = {
    "single_des": KidCcAlgorithm.DES_CBC_MAC,
    "triple_des_cbc2": KidCcAlgorithm.TDES_2KEY_CBC_MAC,
    "triple_des_cbc3": KidCcAlgorithm.TDES_3KEY_CBC_MAC,
    "aes_cmac": KidCcAlgorithm.AES_CMAC,
}
COUNTER_NAMES = {
    "no_counter": CounterMode.NONE,
    "counter_no_replay_or_seq": CounterMode.NO_CHECK,
    "counter_must_be_higher": CounterMode.HIGHER,
    # pySim's name for b5b4 = 11, which means "exactly one higher" (FINDINGS.md).
    "counter_must_be_lower": CounterMode.PLUS_ONE,
}
INTEGRITY_NAMES = {"no_rc_cc_ds": Integrity.NONE, "rc": Integrity.RC, "cc": Integrity.CC,
                   "ds": Integrity.DS}
POR_NAMES = {"no_por": PorRequest.NONE, "por_required": PorRequest.ALWAYS,
             "por_only_when_error": PorRequest.ON_ERROR}


def keyset_of(case: dict[str, Any]) -> OtaKeyset:
    ks = case["input"]["keyset"]
    return OtaKeyset(KIC_NAMES[ks["kic_algo"]], ks["kic_idx"], bytes.fromhex(ks["kic"]),
                     KID_NAMES[ks["kid_algo"]], ks["kid_idx"], bytes.fromhex(ks["kid"]))


def spi_of(case: dict[str, Any]) -> Spi:
    s = case["input"]["spi"]
    return Spi(counter=COUNTER_NAMES[s["counter"]], ciphering=s["ciphering"],
               integrity=INTEGRITY_NAMES[s["rc_cc_ds"]], por=POR_NAMES[s["por"]],
               por_integrity=INTEGRITY_NAMES[s["por_rc_cc_ds"]],
               por_ciphering=s["por_shall_be_ciphered"],
               por_transport=PorTransport(int(s["por_in_submit"])))


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _compare(failures: list[str], what: str, got: object, expected: object) -> None:
    if got != expected:
        failures.append(f"{what}: got {got!r}, expected {expected!r}")


def _check_spi(case: dict[str, Any], failures: list[str]) -> Spi:
    spi = spi_of(case)
    _compare(failures, "SPI encoding", spi.encode().hex(), case["input"]["spi_hex"])
    _compare(failures, "SPI decoding", Spi.decode(bytes.fromhex(case["input"]["spi_hex"])), spi)
    return spi


def _command_intermediates(built: SecuredCommand, keyset: OtaKeyset, spi: Spi) -> dict[str, Any]:
    cs_input = built.checksum_input
    block_padded = None
    if cs_input is not None and spi.integrity is Integrity.CC and \
            keyset.kid_algorithm is not KidCcAlgorithm.AES_CMAC:
        block_padded = cs_input + bytes(-len(cs_input) % 8)
    packet = built.packet
    return {
        "cpl": int.from_bytes(packet[:2], "big"),
        "chl": built.chl,
        "kic_byte": packet[5:6].hex(),
        "kid_byte": packet[6:7].hex(),
        "spi_hex": packet[3:5].hex(),
        "pcntr": built.pcntr,
        "padded_secured_data": built.padded_data.hex(),
        "rc_cc_ds_input": _hex(cs_input),
        "rc_cc_ds_input_after_block_padding": _hex(block_padded),
        "rc_cc_ds": _hex(built.checksum),
        "plaintext_before_ciphering": _hex(built.plaintext),
        "ciphertext": _hex(built.ciphertext),
    }


def _check_segments(packet: bytes, expected: list[dict[str, Any]], failures: list[str]) -> None:
    reference, ref16 = 0, False
    if len(expected) > 1:
        concat = Udh.decode(bytes.fromhex(expected[0]["tp_ud"]))[0].concat
        if concat is not None:
            reference, ref16 = concat.reference, concat.ref16
    segments = command_segments(packet, reference=reference, ref16=ref16)
    _compare(failures, "segment TP-UDs", [s.hex() for s in segments],
             [e["tp_ud"] for e in expected])
    for i, (segment, exp) in enumerate(zip(segments, expected, strict=False)):
        ies = [{"iei": ie.iei, "value": ie.data.hex()} for ie in Udh.decode(segment)[0].elements]
        _compare(failures, f"segment {i + 1} UDH IEs", ies, exp["udh_ies"])
    _compare(failures, "reassembled packet", reassemble(reversed(segments)).hex(), packet.hex())


def _check_command(case: dict[str, Any], failures: list[str]) -> None:
    inp, exp = case["input"], case["expected"]
    spi, keyset = _check_spi(case, failures), keyset_of(case)
    tar, data = bytes.fromhex(inp["tar"]), bytes.fromhex(inp["apdu"])
    _compare(failures, "counter_hex", encode_counter(inp["counter"]).hex(), inp["counter_hex"])
    built = secure_command(spi, keyset, tar, inp["counter"], data)
    _compare(failures, "command_packet", built.packet.hex(), exp["command_packet"])
    _compare(failures, "command_packet_len", len(built.packet), exp["command_packet_len"])
    got = _command_intermediates(built, keyset, spi)
    for key, value in exp["intermediate"].items():
        _compare(failures, f"intermediate.{key}", got.get(key), value)
    _compare(failures, "fits_single_sms", len(built.packet) <= MAX_SINGLE_PACKET,
             exp["fits_single_sms"])
    _check_segments(built.packet, exp["sms_segments"], failures)
    security = TarSecurity((keyset,))
    verified = verify_command(bytes.fromhex(exp["command_packet"]),
                              lambda t: security if t == tar else None, inp["counter"] - 1)
    _compare(failures, "card role: secured data", verified.data.hex(), inp["apdu"])
    _compare(failures, "card role: counter", verified.counter, inp["counter"])


def _decoded(por_tp_ud: bytes, spi: Spi, keyset: OtaKeyset, by_name: bool) -> dict[str, Any]:
    por = verify_por(por_tp_ud, spi, keyset)
    status = PorStatus(por.status)
    out: dict[str, Any] = {
        "rpl": por.rpl, "rhl": por.rhl, "tar": por.tar.hex(),
        "cntr": encode_counter(por.counter).hex(), "pcntr": por.pcntr,
        "response_status": status.name.lower() if by_name else int(status),
        "response_status_name": status.name.lower(),
        "rc_cc_ds": _hex(por.checksum), "additional_response_data": por.data.hex(),
    }
    if por.ok:
        compact = CompactResponse.decode(por.data)
        out["compact_remote_response"] = {
            "number_of_commands": compact.executed,
            "last_status_word": f"{compact.last_sw:04x}",
            "last_response_data": compact.last_data.hex(),
        }
    return out


def _check_response(case: dict[str, Any], failures: list[str]) -> None:
    inp, exp = case["input"], case["expected"]
    spi, keyset = _check_spi(case, failures), keyset_of(case)
    built = secure_por(spi, keyset, bytes.fromhex(inp["tar"]), inp["counter"],
                       inp["response_status"], bytes.fromhex(inp["additional_response_data"]))
    _compare(failures, "response_tp_ud", built.tp_ud.hex(), exp["response_tp_ud"])
    got = {"rpl": built.rpl, "rhl": built.rhl, "pcntr": built.pcntr,
           "rc_cc_ds_input": _hex(built.checksum_input), "rc_cc_ds": _hex(built.checksum),
           "plaintext_before_ciphering": _hex(built.plaintext)}
    for key, value in exp["intermediate"].items():
        _compare(failures, f"intermediate.{key}", got.get(key), value)
    _compare(failures, "envelope_r_apdu", built.tp_ud.hex() + "9000", exp["envelope_r_apdu"])
    decoded = _decoded(bytes.fromhex(exp["response_tp_ud"]), spi, keyset, by_name=False)
    for key, value in exp["decoded"].items():
        _compare(failures, f"decoded.{key}", decoded.get(key), value)


def _check_kat_por(case: dict[str, Any], failures: list[str]) -> None:
    inp, exp = case["input"], case["expected"]
    spi, keyset = _check_spi(case, failures), keyset_of(case)
    tp_ud = bytes.fromhex(inp["response_tp_ud"])
    decoded = _decoded(tp_ud, spi, keyset, by_name=True)
    for key, value in exp["decoded"].items():
        _compare(failures, f"decoded.{key}", decoded.get(key), value)
    if exp.get("reference_encoder_reproduces"):
        por = verify_por(tp_ud, spi, keyset)
        again = secure_por(spi, keyset, por.tar, por.counter, por.status, por.data)
        _compare(failures, "re-encoded PoR", again.tp_ud.hex(), inp["response_tp_ud"])


def _checker(case: dict[str, Any]) -> Callable[[dict[str, Any], list[str]], None] | None:
    group = case.get("group")
    if group == "ota_command" or (group == "ota_upstream_kat" and "apdu" in case["input"]):
        return _check_command
    if group == "ota_response":
        return _check_response
    if group == "ota_upstream_kat":
        return _check_kat_por
    return None


def check_case(case: dict[str, Any]) -> list[str]:
    """Failure descriptions for one case of our groups (empty list: the case passes)."""
    checker = _checker(case)
    if checker is None:
        return [f"case {case.get('id')}: group {case.get('group')!r} is not an OTA group"]
    failures: list[str] = []
    try:
        checker(case, failures)
    except OtaError as exc:
        failures.append(f"{type(exc).__name__} (PoR status {exc.por_status:#04x}): {exc.detail}")
    except (KeyError, ValueError, TypeError) as exc:
        failures.append(f"malformed case: {type(exc).__name__}: {exc}")
    return failures
