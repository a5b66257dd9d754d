"""``[smsc]`` and ``[outbox]`` settings, the ESME configuration built from them, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.settings import OutboxSettings, Settings, SettingsError, SmscSettings
from gateway.smsc_link import esme_config
from gateway.workers.outbox import in_quiet_hours
from smpp.receipts import IdFormat

KEY = "11" * 32


def load(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> Settings:
    config = tmp_path / "onecard.toml"
    config.write_text(f'[security]\nmaster_keys = ["{KEY}"]\n{body}')
    return Settings.load(config, {}, env or {})


def test_no_smsc_section_means_no_smsc(tmp_path: Path) -> None:
    settings = load(tmp_path, "")
    assert settings.smsc is None and settings.outbox == OutboxSettings()


def test_smsc_and_outbox_from_toml_and_environment(tmp_path: Path) -> None:
    settings = load(tmp_path, """
[smsc]
host = "smsc.example"
port = 2776
system_id = "onecard"
password = "secret"
source_addr = "10658888"
throughput = 200
message_ids = "hex"
receipt_ids = "dec"
[outbox]
lease_s = 10
quiet_hours = "22:00-08:00"
""", {"ONECARD_SMSC_WINDOW": "7", "ONECARD_SMSC_PASSWORD": "fromenv"})
    smsc = settings.smsc
    assert smsc is not None and smsc.port == 2776 and smsc.window == 7
    assert smsc.password == "fromenv" and smsc.throughput == 200.0
    assert settings.outbox.lease_s == 10.0 and settings.outbox.quiet_hours == "22:00-08:00"
    config = esme_config(smsc)
    assert (config.host, config.port, config.system_id, config.source_addr) == (
        "smsc.example", 2776, "onecard", "10658888")
    assert config.address_range == "^10658888" and config.throughput == 200.0
    assert config.id_policy.response is IdFormat.HEX
    assert config.id_policy.receipt_text is IdFormat.DECIMAL


def test_the_environment_alone_configures_an_smsc(tmp_path: Path) -> None:
    settings = load(tmp_path, "", {"ONECARD_SMSC_HOST": "10.0.0.5", "ONECARD_SMSC_PORT": "2775"})
    assert settings.smsc == SmscSettings(host="10.0.0.5", port=2775)


@pytest.mark.parametrize(("body", "where"), [
    ("[smsc]\nport = 2775\n", "smsc.host"),
    ('[smsc]\nhost = "h"\nport = 0\n', "smsc.port"),
    ('[smsc]\nhost = "h"\npassword = "much-too-long"\n', "smsc"),
    ('[smsc]\nhost = "h"\nthroughput = -1\n', "smsc.throughput"),
    ('[smsc]\nhost = "h"\nmessage_ids = "base64"\n', "smsc.message_ids"),
    ('[smsc]\nhost = "h"\nwindow = "wide"\n', "smsc.window"),
    ('[smsc]\nhost = "h"\nwindnow = 5\n', "smsc.windnow"),
    ('[outbox]\nquiet_hours = "late"\n', "outbox.quiet_hours"),
    ("[outbox]\nclaim_batch = 0\n", "outbox"),
])
def test_bad_settings_name_the_setting(tmp_path: Path, body: str, where: str) -> None:
    with pytest.raises(SettingsError, match=where.replace(".", r"\.")):
        load(tmp_path, body)


def test_quiet_hours_in_china_time() -> None:
    def at(hour: int, minute: int = 0) -> datetime:  # UTC = China time - 8 h
        return datetime(2026, 11, 25, (hour - 8) % 24, minute, tzinfo=UTC)

    night = "22:00-08:00"
    assert in_quiet_hours(night, at(23)) and in_quiet_hours(night, at(7, 59))
    assert not in_quiet_hours(night, at(8)) and not in_quiet_hours(night, at(21, 59))
    assert in_quiet_hours("12:00-13:30", at(13, 29)) and not in_quiet_hours("12:00-13:30", at(14))
    assert not in_quiet_hours(None, at(3))
