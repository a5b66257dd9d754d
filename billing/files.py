"""Export files on disk: deterministic names, atomic writes and ``.sha256`` checksum files.

A file is written under a hidden temporary name (``.<name>.part``) in its final directory,
flushed and fsynced, renamed over its final name, and the directory is fsynced so the rename
survives a power cut. Its checksum file (``<name>.sha256``, the format ``sha256sum -c``
reads) is written the same way, after the file: a checksum file therefore always describes a
complete file, and a reader that sees no checksum file must not take the file yet.

A crash leaves at most a ``.part`` file behind; the next attempt truncates and rewrites it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from types import TracebackType

from billing.errors import ChecksumMismatch, ExportError
from billing.period import BILLING_TZ, Period

#: Node id, carrier, local date of the file's opening, running sequence, extension.
DEFAULT_NAME_PATTERN = "{node}_{carrier}_{date}_{sequence:06d}.{ext}"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,200}$")
_BUFFER = 1 << 20


def file_name(
    pattern: str,
    *,
    node: str,
    carrier: str,
    period: Period,
    sequence: int,
    opened_at: datetime,
    extension: str,
    tz: tzinfo = BILLING_TZ,
) -> str:
    """The file's name from the carrier's pattern; refuses names that could leave the dir."""
    try:
        name = pattern.format(
            node=node,
            carrier=carrier,
            period=str(period).replace("-", ""),
            sequence=sequence,
            date=opened_at.astimezone(tz).strftime("%Y%m%d"),
            ext=extension,
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ExportError(f"file name pattern {pattern!r}: {exc}") from exc
    if not _SAFE_NAME.match(name) or ".." in name:
        raise ExportError(f"file name {name!r} from pattern {pattern!r} is not a safe file name")
    return name


@dataclass(frozen=True, slots=True)
class WrittenFile:
    name: str
    size: int
    sha256: str


def checksum_name(name: str) -> str:
    return f"{name}.sha256"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BUFFER):
            digest.update(block)
    return digest.hexdigest()


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile:
    """A sink (``billing.export.base.Sink``) that becomes ``directory/name`` on ``commit``."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.final = directory / name
        self.temp = directory / f".{name}.part"
        directory.mkdir(parents=True, exist_ok=True)
        self._handle = self.temp.open("wb", buffering=_BUFFER)
        self._digest: hashlib._Hash | None = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> int:
        self._handle.write(data)
        self._size += len(data)
        if self._digest is not None:
            self._digest.update(data)
        return len(data)

    def patch_start(self, data: bytes) -> None:
        """Overwrite the first bytes (a header whose counts are known only at the end)."""
        self._handle.flush()
        self._handle.seek(0)
        self._handle.write(data)
        self._handle.seek(0, os.SEEK_END)
        self._digest = None  # the running digest no longer matches; re-read at commit

    def commit(self, expected_sha256: str | None = None) -> WrittenFile:
        """Publish the file. With ``expected_sha256`` (a re-export), a file that would differ
        from what was published before is refused and the published one left as it is."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        digest = self._digest.hexdigest() if self._digest is not None else sha256_of(self.temp)
        if expected_sha256 is not None and digest != expected_sha256:
            self.temp.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"{self.name} would now have sha256 {digest}, not {expected_sha256} as exported;"
                " records or layouts changed since: re-rate the month instead of re-exporting"
            )
        os.replace(self.temp, self.final)
        fsync_directory(self.directory)
        write_atomically(self.directory, checksum_name(self.name), f"{digest}  {self.name}\n")
        return WrittenFile(self.name, self._size, digest)

    def abort(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self.temp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()


def write_atomically(directory: Path, name: str, text: str) -> None:
    temp = directory / f".{name}.part"
    with temp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, directory / name)
    fsync_directory(directory)


def complete_file(directory: Path, name: str) -> WrittenFile | None:
    """The file if it and its checksum file exist and agree, else None (must be rewritten)."""
    path, sums = directory / name, directory / checksum_name(name)
    if not path.is_file() or not sums.is_file():
        return None
    recorded = sums.read_text(encoding="utf-8").split(maxsplit=1)
    digest = sha256_of(path)
    if not recorded or recorded[0] != digest:
        return None
    return WrittenFile(name, path.stat().st_size, digest)
