"""``onecard vectors``: every case of the conformance file passes; a broken case is reported."""

from __future__ import annotations

import json
import pathlib

import pytest

from gateway.cli import main


def test_all_vectors_pass(vectors_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vectors", str(vectors_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "111 passed, 0 failed"
    assert not any(line.startswith("FAIL") for line in lines)


def test_tampered_cases_fail_with_one_line_each(
    vectors_path: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(vectors_path.read_text(encoding="utf-8"))
    by_group: dict[str, dict[str, object]] = {}
    for case in document["cases"]:
        by_group.setdefault(case["group"], case)
    # One tampered case per group: flip the last hex digit of the main expected bytes.
    fields = {
        "ota_command": "command_packet",
        "ota_upstream_kat": "command_packet",
        "ota_response": "response_tp_ud",
        "cat_proactive": "hex",
        "cat_envelope": "hex",
        "cat_terminal_response": "hex",
        "sms_tpdu": "tpdu",
    }
    tampered = []
    for group, case in by_group.items():
        expected = case["expected"]
        assert isinstance(expected, dict)
        key = fields[group]
        if key not in expected:  # upstream KAT PoR cases carry the packet as input
            continue
        value = expected[key]
        expected[key] = value[:-1] + ("0" if value[-1] != "0" else "1")
        tampered.append(case["id"])
    document["cases"] = list(by_group.values())
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    assert main(["vectors", str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    failed_ids = {line.split()[1] for line in out if line.startswith("FAIL")}
    assert failed_ids == set(tampered)
    assert out[-1] == f"{len(by_group) - len(tampered)} passed, {len(tampered)} failed"


def test_unreadable_file_is_a_clear_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["vectors", str(bad)]) == 2
    assert "cannot read vector file" in capsys.readouterr().err
