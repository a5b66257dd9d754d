"""``onecard decode`` and ``onecard ota build``: analyser output, keys, nesting, bad input."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.cli import main
from ota.keys import derive_card_keyset

MASTER = "000102030405060708090a0b0c0d0e0f"
ICCID = "89860012345678901234"


def _cases(vectors_path: pathlib.Path, group: str) -> list[dict[str, Any]]:
    document = json.loads(vectors_path.read_text(encoding="utf-8"))
    return [c for c in document["cases"] if c["group"] == group]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_command_vector_decodes_with_its_keys(
    vectors_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for case in _cases(vectors_path, "ota_command"):
        keys = case["input"]["keyset"]
        segments = case["expected"]["sms_segments"]
        argv = ["decode", *(s["sms_deliver_tpdu"] for s in segments),
                "--kic-key", keys["kic"], "--kid-key", keys["kid"]]
        code, out, err = _run(capsys, *argv)
        assert code == 0, (case["id"], err)
        intermediate = case["expected"]["intermediate"]
        if intermediate["rc_cc_ds"] is not None:
            assert f"{intermediate['rc_cc_ds']} (verified)" in out, case["id"]
        assert f"CNTR  {case['input']['counter_hex']}" in out, case["id"]


def test_ciphered_packet_without_keys_says_what_is_missing(
    vectors_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = _cases(vectors_path, "ota_command")[0]
    code, out, _ = _run(capsys, "decode", case["expected"]["command_packet"])
    assert code == 0
    assert "give --kic-key/--kid-key" in out and "TDES_2KEY_CBC" in out


def test_wrong_key_shows_mismatch(
    vectors_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = next(c for c in _cases(vectors_path, "ota_command")
                if not c["input"]["spi"]["ciphering"] and c["input"]["spi"]["rc_cc_ds"] == "cc")
    keys = case["input"]["keyset"]
    wrong = "00" * (len(keys["kid"]) // 2)
    code, out, _ = _run(capsys, "decode", case["expected"]["command_packet"],
                        "--kid-key", wrong, "--kic-key", keys["kic"])
    assert code == 0 and "(MISMATCH)" in out


def test_por_vectors_decode(vectors_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    for case in _cases(vectors_path, "ota_response"):
        keys = case["input"]["keyset"]
        argv = ["decode", case["expected"]["response_tp_ud"], "--spi", case["input"]["spi_hex"],
                "--kic-key", keys["kic"], "--kid-key", keys["kid"]]
        code, out, err = _run(capsys, *argv)
        assert code == 0, (case["id"], err)
        assert f"STS   {case['input']['response_status']:02x}" in out, case["id"]


def test_build_then_decode_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "ota", "build", "--master-key", MASTER, "--iccid", ICCID,
                        "--counter", "7", "--tpdu", "80 5C 00 02 00")
    assert code == 0
    tpdu = next(line.split()[-1] for line in out.splitlines() if "tpdu" in line)
    keys = derive_card_keyset(bytes.fromhex(MASTER), ICCID)
    code, out, _ = _run(capsys, "decode", tpdu, "--kic-key", keys.kic.hex(),
                        "--kid-key", keys.kid.hex())
    assert code == 0
    assert "(verified)" in out and "ReadBalance" in out and "one-card applet" in out
    assert "CNTR  0000000007 (7)" in out


def test_long_packet_is_segmented_and_reassembled(capsys: pytest.CaptureFixture[str]) -> None:
    data = "80e20000c8" + "11" * 200
    code, out, _ = _run(capsys, "ota", "build", "--spi", "0000", "--counter", "1",
                        "--reference", "9", data)
    assert code == 0
    tp_uds = [line.split()[-1] for line in out.splitlines() if "tp-ud" in line]
    assert len(tp_uds) == 2 and tp_uds[0].startswith("07000309020170")
    code, out, _ = _run(capsys, "decode", tp_uds[0])
    assert "segment 1 of 2" in out
    code, out, _ = _run(capsys, "decode", *reversed(tp_uds))
    assert code == 0 and "2 SMS-PP segments reassembled" in out and data in out


def test_stk_objects_nest_their_tpdus(
    vectors_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = _cases(vectors_path, "ota_command")[0]
    envelope = case["expected"]["sms_segments"][0]["envelope_apdu"]
    code, out, _ = _run(capsys, "decode", envelope)
    assert code == 0
    assert "SMS PP DOWNLOAD" in out and "SMS-DELIVER" in out and "OTA command packet" in out


def test_build_refuses_bad_input_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "ota", "build", "--counter", "1", "--kic-key", "0011", "00a4")
    assert code == 1 and err.startswith("cannot build:")
    with pytest.raises(SystemExit):
        main(["ota", "build", "--counter", "1", "--tar", "zz", "00"])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_random_octets_never_crash(data: bytes) -> None:
    # Any input decodes or is refused with our error (exit 1), never an uncaught exception.
    assert main(["decode", data.hex() or "00"]) in (0, 1)
