from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing.errors import ChecksumMismatch, ExportError
from billing.files import (
    DEFAULT_NAME_PATTERN,
    AtomicFile,
    checksum_name,
    complete_file,
    file_name,
)
from billing.period import Period
from tests.support import need_binary

OPENED = datetime(2026, 10, 31, 17, tzinfo=UTC)  # 1 November in Beijing


def name(pattern: str = DEFAULT_NAME_PATTERN, **overrides: object) -> str:
    values: dict[str, object] = {
        "node": "GW01",
        "carrier": "CMCC-GD",
        "period": Period(2026, 10),
        "sequence": 7,
        "opened_at": OPENED,
        "extension": "csv",
    }
    values.update(overrides)
    return file_name(pattern, **values)  # type: ignore[arg-type]


def test_names_carry_node_local_date_and_running_sequence() -> None:
    assert name() == "GW01_CMCC-GD_20261101_000007.csv"
    assert name("{node}_-_{sequence}.{period}.{ext}") == "GW01_-_7.202610.csv"


@pytest.mark.parametrize("pattern", ["../{node}.{ext}", "{nodes}.{ext}", "/tmp/{node}", ".{node}"])
def test_unsafe_or_broken_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ExportError):
        name(pattern)


def test_atomic_file_appears_only_on_commit_with_its_checksum(tmp_path: Path) -> None:
    sink = AtomicFile(tmp_path, "a.csv")
    sink.write(b"hello ")
    sink.write(b"world\n")
    assert not (tmp_path / "a.csv").exists()
    assert (tmp_path / ".a.csv.part").exists()
    written = sink.commit()
    assert (tmp_path / "a.csv").read_bytes() == b"hello world\n"
    assert not (tmp_path / ".a.csv.part").exists()
    assert written.sha256 == hashlib.sha256(b"hello world\n").hexdigest()
    assert (tmp_path / checksum_name("a.csv")).read_text() == f"{written.sha256}  a.csv\n"
    assert complete_file(tmp_path, "a.csv") == written


def test_checksum_file_is_what_sha256sum_checks(tmp_path: Path) -> None:
    sha256sum = need_binary("sha256sum", "coreutils")
    with AtomicFile(tmp_path, "b.ber") as sink:
        sink.write(b"\x00" * 100)
        sink.patch_start(b"\x01\x02")  # the header patch forces a re-read for the digest
        sink.commit()
    assert (tmp_path / "b.ber").read_bytes()[:3] == b"\x01\x02\x00"
    subprocess.run([sha256sum, "-c", "b.ber.sha256"], cwd=tmp_path, check=True, capture_output=True)


def test_an_error_leaves_no_file_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), AtomicFile(tmp_path, "c.csv") as sink:
        sink.write(b"partial")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_a_stale_part_file_is_overwritten(tmp_path: Path) -> None:
    (tmp_path / ".d.csv.part").write_bytes(b"stale stale stale")
    sink = AtomicFile(tmp_path, "d.csv")
    sink.write(b"new")
    sink.commit()
    assert (tmp_path / "d.csv").read_bytes() == b"new"


def test_complete_file_rejects_missing_or_disagreeing_checksums(tmp_path: Path) -> None:
    assert complete_file(tmp_path, "e.csv") is None
    (tmp_path / "e.csv").write_bytes(b"data")
    assert complete_file(tmp_path, "e.csv") is None  # no checksum file: not complete
    (tmp_path / "e.csv.sha256").write_text("0" * 64 + "  e.csv\n")
    assert complete_file(tmp_path, "e.csv") is None
    (tmp_path / "e.csv.sha256").write_text("")
    assert complete_file(tmp_path, "e.csv") is None


def test_a_re_export_that_would_differ_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    first = AtomicFile(tmp_path, "f.csv")
    first.write(b"v1")
    published = first.commit()
    second = AtomicFile(tmp_path, "f.csv")
    second.write(b"v2")
    with pytest.raises(ChecksumMismatch):
        second.commit(expected_sha256=published.sha256)
    assert (tmp_path / "f.csv").read_bytes() == b"v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "f.csv.sha256"]
