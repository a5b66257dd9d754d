"""Settings: one frozen object, built once from defaults, a TOML file, the environment and flags.

Precedence, lowest first: defaults, the TOML file (``--config``), ``ONECARD_*`` environment
variables, command-line flags. This is the only module that reads ``os.environ``.

TOML layout (every key optional)::

    data_dir = "/var/lib/onecard"
    [server]
    host = "0.0.0.0"
    port = 8080
    max_body_bytes = 1048576
    [database]
    url = "postgresql+asyncpg://onecard@db/onecard"
    schema = "onecard"            # PostgreSQL search_path
    migrate_on_start = true
    [security]
    master_key_file = "master.key"  # hex keys, one a line, first is active (relative to data_dir)
    master_keys = ["<64 hex>"]      # alternative to the file; first is active
    operator_token = "..."          # bootstrap operator bearer token
    rate_limit_per_second = 50.0
    rate_limit_burst = 100
    terminal_replay_window_s = 300
    [embedded]
    demo_members = 5
    [smsc]                          # absent: no SMSC, SMS stay queued in the outbox
    host = "smsc.carrier.example"
    port = 2775
    system_id = "onecard"
    password = "secret"
    source_addr = "10658888"        # the service number (服务号码) members see and reply to
    window = 50                     # submit_sm in flight
    throughput = 200.0              # contracted segments per second (none: unlimited)
    [outbox]
    claim_batch = 500
    lease_s = 30.0
    quiet_hours = "22:00-08:00"     # China time; non-urgent SMS wait until it ends
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

MASTER_KEY_BYTES = 32  # AES-256-GCM
T = TypeVar("T")

# environment variable -> (section, key, parser)
_ENV: dict[str, tuple[str, str, type]] = {
    "ONECARD_DATA_DIR": ("", "data_dir", str),
    "ONECARD_HOST": ("server", "host", str),
    "ONECARD_PORT": ("server", "port", int),
    "ONECARD_MAX_BODY_BYTES": ("server", "max_body_bytes", int),
    "ONECARD_DATABASE_URL": ("database", "url", str),
    "ONECARD_DATABASE_SCHEMA": ("database", "schema", str),
    "ONECARD_MASTER_KEY_FILE": ("security", "master_key_file", str),
    "ONECARD_OPERATOR_TOKEN": ("security", "operator_token", str),
    "ONECARD_RATE_LIMIT_PER_SECOND": ("security", "rate_limit_per_second", float),
    "ONECARD_RATE_LIMIT_BURST": ("security", "rate_limit_burst", int),
    "ONECARD_LOG_LEVEL": ("", "log_level", str),
    "ONECARD_SMSC_HOST": ("smsc", "host", str),
    "ONECARD_SMSC_PORT": ("smsc", "port", int),
    "ONECARD_SMSC_SYSTEM_ID": ("smsc", "system_id", str),
    "ONECARD_SMSC_PASSWORD": ("smsc", "password", str),
    "ONECARD_SMSC_SOURCE_ADDR": ("smsc", "source_addr", str),
    "ONECARD_SMSC_WINDOW": ("smsc", "window", int),
    "ONECARD_SMSC_THROUGHPUT": ("smsc", "throughput", float),
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class SmscSettings:
    """``[smsc]``: the carrier's SMSC that ``gateway.smsc_link`` binds to (SMPP 3.4
    transceiver). ``message_ids`` is how the SMSC writes ids in submit_sm_resp (hex, dec,
    text), ``receipt_ids`` how in receipts when it differs (``smpp.receipts.IdPolicy``)."""

    host: str
    port: int = 2775
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    source_addr: str = ""
    window: int = 50
    throughput: float | None = None
    message_ids: str = "text"
    receipt_ids: str | None = None
    ref16: bool = False
    # Addresses MO for us are sent to (SMPP 5.2.7, a regular expression); None: the service
    # number and its extensions, "^<source_addr>".
    address_range: str | None = None
    enquire_link_s: float = 30.0
    response_timeout_s: float = 10.0
    # Receipt and MO callbacks running at once: each waits for its batch to be written, so
    # this bounds how many receipts one database transaction can take.
    callback_workers: int = 512

    def __post_init__(self) -> None:
        if not self.host:
            raise SettingsError("smsc.host: required")
        if not 0 < self.port < 65536:
            raise SettingsError(f"smsc.port: {self.port} is not a TCP port")
        if len(self.system_id) > 15 or len(self.password) > 8:
            raise SettingsError("smsc: system_id holds 15 characters, password 8 (SMPP 4.1.1)")
        if self.window < 1 or self.callback_workers < 1:
            raise SettingsError("smsc.window and smsc.callback_workers: at least 1")
        if self.throughput is not None and self.throughput <= 0:
            raise SettingsError("smsc.throughput: segments per second, above 0")
        for name in ("message_ids", "receipt_ids"):
            value = getattr(self, name)
            if value is not None and value not in ("hex", "dec", "text"):
                raise SettingsError(f"smsc.{name}: one of hex, dec, text")


@dataclass(frozen=True)
class OutboxSettings:
    """``[outbox]``: how dispatchers claim, retry and expire outgoing SMS."""

    claim_batch: int = 500  # rows per claim
    max_in_flight: int = 4000  # segments handed to the ESME and not yet answered
    lease_s: float = 30.0  # a claim lapses unless renewed (a dead node's rows come back)
    poll_s: float = 0.2  # idle poll when no wake-up came
    max_attempts: int = 5  # temporary failures before a message fails
    retry_initial_s: float = 5.0
    retry_max_s: float = 600.0
    orphan_receipt_s: float = 10.0  # a receipt waits this long for its part to be recorded
    quiet_hours: str | None = None  # "HH:MM-HH:MM", China time (UTC+8)

    def __post_init__(self) -> None:
        if min(self.claim_batch, self.max_in_flight, self.max_attempts) < 1:
            raise SettingsError("outbox: claim_batch, max_in_flight, max_attempts at least 1")
        if min(self.lease_s, self.poll_s, self.retry_initial_s, self.orphan_receipt_s) <= 0:
            raise SettingsError("outbox: times must be positive")
        if self.quiet_hours is not None and not _QUIET.fullmatch(self.quiet_hours):
            raise SettingsError("outbox.quiet_hours: expected HH:MM-HH:MM")


_QUIET = re.compile(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    master_keys: tuple[bytes, ...]
    database_schema: str | None = None
    migrate_on_start: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1 << 20
    operator_token: str | None = None
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    terminal_replay_window_s: int = 300
    page_limit_max: int = 500
    log_level: str = "INFO"
    demo_members: int = 5
    smsc: SmscSettings | None = None
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.master_keys:
            raise SettingsError("security.master_keys: at least one master key is required")
        for key in self.master_keys:
            if len(key) != MASTER_KEY_BYTES:
                raise SettingsError(f"security.master_keys: keys are {MASTER_KEY_BYTES} bytes")
        if not 0 < self.port < 65536:
            raise SettingsError(f"server.port: {self.port} is not a TCP port")

    @property
    def active_master_key(self) -> bytes:
        return self.master_keys[0]

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def for_database(cls, data_dir: Path, database_url: str | None = None, **kw: Any) -> Settings:
        """Settings with a fresh random master key: for tests, benchmarks and tools."""
        url = database_url or sqlite_url(data_dir / "onecard.sqlite")
        return cls(data_dir=data_dir, database_url=url,
                   master_keys=(secrets.token_bytes(MASTER_KEY_BYTES),), **kw)

    @classmethod
    def load(
        cls,
        config_file: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        create_master_key: bool = False,
    ) -> Settings:
        """Build the settings; ``overrides`` are flags keyed like ``"server.port"``.

        With ``create_master_key``, a missing master key file is created (mode 0600): the first
        ``onecard serve`` in an empty directory just works, and later runs reuse the key.
        """
        tree = _read_toml(config_file) if config_file else {}
        if config_file and isinstance(tree.get("data_dir"), str):
            # A data_dir written in the file is relative to the file, not to the shell.
            tree["data_dir"] = str(config_file.parent / tree["data_dir"])
        _merge_env(tree, os.environ if environ is None else environ)
        for dotted, value in (overrides or {}).items():
            if value is not None:
                section, _, name = dotted.rpartition(".")
                _section(tree, section)[name] = value
        return _from_tree(tree, create_master_key)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def ensure_master_key_file(path: Path) -> bool:
    """Create a master key file (mode 0600) when there is none; True if one was created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(MASTER_KEY_BYTES) + "\n")
    return True


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"--config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"--config {path}: {exc}") from exc


def _section(tree: dict[str, Any], name: str) -> dict[str, Any]:
    if not name:
        return tree
    node = tree.setdefault(name, {})
    if not isinstance(node, dict):
        raise SettingsError(f"{name}: expected a table")
    return node


def _merge_env(tree: dict[str, Any], environ: Mapping[str, str]) -> None:
    for var, (section, name, parse) in _ENV.items():
        if var in environ:
            try:
                _section(tree, section)[name] = parse(environ[var])
            except ValueError as exc:
                raise SettingsError(f"{var}: {exc}") from exc
    if "ONECARD_MASTER_KEY" in environ:
        _section(tree, "security")["master_keys"] = environ["ONECARD_MASTER_KEY"].split(",")


def _get(tree: dict[str, Any], section: str, name: str, kind: type, default: Any) -> Any:
    value = _section(tree, section).get(name, default)
    if value is None or isinstance(value, kind):
        return value
    if kind is float and isinstance(value, int):
        return float(value)
    where = f"{section}.{name}" if section else name
    raise SettingsError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")


def _parse_keys(lines: list[Any], where: str) -> tuple[bytes, ...]:
    keys = []
    for line in lines:
        text = str(line).strip()
        if not text or text.startswith("#"):
            continue
        try:
            keys.append(bytes.fromhex(text))
        except ValueError as exc:
            raise SettingsError(f"{where}: master keys are hex strings") from exc
    return tuple(keys)


def _master_keys(tree: dict[str, Any], data_dir: Path, create: bool) -> tuple[bytes, ...]:
    listed = _get(tree, "security", "master_keys", list, None)
    if listed is not None:
        return _parse_keys(listed, "security.master_keys")
    name = _get(tree, "security", "master_key_file", str, "master.key")
    path = data_dir / name
    if create:
        ensure_master_key_file(path)
    try:
        return _parse_keys(path.read_text().splitlines(), str(path))
    except FileNotFoundError as exc:
        raise SettingsError(
            f"security.master_key_file: {path} does not exist (onecard serve creates it)"
        ) from exc


def _from_tree(tree: dict[str, Any], create_master_key: bool) -> Settings:
    data_dir = Path(_get(tree, "", "data_dir", str, ".")).resolve()
    url = _get(tree, "database", "url", str, None) or sqlite_url(data_dir / "onecard.sqlite")
    return Settings(
        data_dir=data_dir,
        database_url=url,
        master_keys=_master_keys(tree, data_dir, create_master_key),
        database_schema=_get(tree, "database", "schema", str, None),
        migrate_on_start=_get(tree, "database", "migrate_on_start", bool, True),
        host=_get(tree, "server", "host", str, "127.0.0.1"),
        port=_get(tree, "server", "port", int, 8080),
        max_body_bytes=_get(tree, "server", "max_body_bytes", int, 1 << 20),
        operator_token=_get(tree, "security", "operator_token", str, None),
        rate_limit_per_second=_get(tree, "security", "rate_limit_per_second", float, 50.0),
        rate_limit_burst=_get(tree, "security", "rate_limit_burst", int, 100),
        terminal_replay_window_s=_get(tree, "security", "terminal_replay_window_s", int, 300),
        log_level=_get(tree, "", "log_level", str, "INFO"),
        demo_members=_get(tree, "embedded", "demo_members", int, 5),
        smsc=_smsc(tree),
        outbox=_table(tree, "outbox", OutboxSettings),
        extra={k: v for k, v in tree.items() if k not in _KNOWN_SECTIONS},
    )


def _smsc(tree: dict[str, Any]) -> SmscSettings | None:
    table = _section(tree, "smsc")
    if not table:
        return None
    if "host" not in table:
        raise SettingsError("smsc.host: required when [smsc] is given")
    return _table(tree, "smsc", SmscSettings)


def _table(tree: dict[str, Any], section: str, kind: type[T]) -> T:
    """A settings dataclass from one TOML table: known keys, typed as the dataclass says."""
    table = _section(tree, section)
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise SettingsError(f"{section}.{unknown[0]}: unknown setting")
    values: dict[str, Any] = {}
    for name in table:
        expected = _FIELD_TYPES.get(str(fields[name].type).replace(" ", ""), str)
        values[name] = _get(tree, section, name, expected, None)
    return kind(**values)


# Field annotations (strings, "from __future__ import annotations") -> the TOML type checked.
_FIELD_TYPES: dict[str, type] = {
    "str": str, "str|None": str, "int": int, "float": float, "float|None": float, "bool": bool,
}

# Sections read by other parts (smpp, ota, billing) are passed through ``Settings.extra``.
_KNOWN_SECTIONS = frozenset({"data_dir", "log_level", "server", "database", "security", "embedded",
                             "smsc", "outbox"})
