"""``onecard sim`` without PC/SC: new, show, and refusing to overwrite a card."""

from __future__ import annotations

import json
import pathlib

import pytest

from gateway.cli import main
from ota.keys import derive_card_keyset


def test_sim_new_then_show(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.json"
    master = bytes(range(16))
    assert main(["sim", "new", "--card", str(path), "--ota-master", master.hex()]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["ota"]["kic"] == derive_card_keyset(master, printed["iccid"]).kic.hex()
    assert main(["sim", "new", "--card", str(path)]) == 1
    assert "not overwriting" in capsys.readouterr().err
    assert main(["sim", "show", "--card", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["iccid"] == printed["iccid"] and "transport_key" not in json.dumps(shown)


def test_sim_show_of_a_bad_file(tmp_path: pathlib.Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    assert main(["sim", "show", "--card", str(path)]) == 1
    assert "not JSON" in capsys.readouterr().err


def test_bad_master_key_is_an_argument_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SystemExit):
        main(["sim", "new", "--card", str(tmp_path / "x.json"), "--ota-master", "abcd"])
