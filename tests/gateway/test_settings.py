"""Settings: defaults < TOML < environment < flags; the master key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError, ensure_master_key_file

KEY = "11" * 32


def test_defaults_put_data_in_the_current_directory(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.load(environ={}, create_master_key=True)
    assert settings.data_dir == tmp_path
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/onecard.sqlite"
    assert settings.port == 8080 and settings.host == "127.0.0.1"
    assert stat.S_IMODE(os.stat(tmp_path / "master.key").st_mode) == 0o600
    again = Settings.load(environ={})
    assert again.master_keys == settings.master_keys  # the key file is reused


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "onecard.toml"
    config.write_text(f"""
data_dir = "var"
[server]
port = 9000
host = "0.0.0.0"
[database]
url = "postgresql+asyncpg://db/onecard"
schema = "gw"
[security]
master_keys = ["{KEY}"]
rate_limit_per_second = 5
[billing]
carrier = "cmcc"
""")
    env = {"ONECARD_PORT": "9100", "ONECARD_OPERATOR_TOKEN": "tok"}
    settings = Settings.load(config, {"server.port": 9200}, env)
    assert settings.port == 9200
    assert settings.host == "0.0.0.0"
    assert settings.data_dir == tmp_path / "var"  # relative to the file
    assert settings.database_url.startswith("postgresql") and settings.database_schema == "gw"
    assert settings.master_keys == (bytes.fromhex(KEY),)
    assert settings.operator_token == "tok" and settings.rate_limit_per_second == 5.0
    assert settings.extra == {"billing": {"carrier": "cmcc"}}
    assert Settings.load(config, {}, env).port == 9100


def test_master_keys_from_the_environment_rotate(tmp_path: Path) -> None:
    env = {"ONECARD_DATA_DIR": str(tmp_path), "ONECARD_MASTER_KEY": f"{'22' * 32},{KEY}"}
    settings = Settings.load(environ=env)
    assert settings.active_master_key == bytes.fromhex("22" * 32)
    assert len(settings.master_keys) == 2


SECURITY = f"[security]\nmaster_keys = ['{KEY}']\n"


@pytest.mark.parametrize(("toml", "env", "message"), [
    ("[server]\nport = 'x'\n" + SECURITY, {}, "server.port"),
    ("[server]\nport = 70000\n" + SECURITY, {}, "server.port"),
    (SECURITY, {"ONECARD_PORT": "eighty"}, "ONECARD_PORT"),
    ("[security]\nmaster_keys = ['abcd']\n", {}, "master_keys"),
    ("[security]\nmaster_keys = ['zz']\n", {}, "hex"),
    ("server = 3\n" + SECURITY, {}, "server"),
    ("not toml [", {}, "onecard.toml"),
])
def test_errors_name_the_setting(tmp_path: Path, toml: str, env: dict[str, str],
                                 message: str) -> None:
    config = tmp_path / "onecard.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError, match=message.replace(".", r"\.")):
        Settings.load(config, environ=env)


def test_missing_key_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="master_key_file"):
        Settings.load(environ={"ONECARD_DATA_DIR": str(tmp_path)})
    assert ensure_master_key_file(tmp_path / "k") is True
    assert ensure_master_key_file(tmp_path / "k") is False


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="--config"):
        Settings.load(tmp_path / "nope.toml", environ={})
