"""directory_sha256: deterministic, documented, sensitive to every byte and name."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from retrainer.registry.digest import directory_sha256, file_sha256


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


FILES = {"bundle.json": b'{"a": 1}\n', "model.lgb.txt": b"tree\n", "sub/x.bin": b"\x00\x01"}


def test_matches_the_documented_scheme(tmp_path: Path):
    _tree(tmp_path, FILES)
    stream = b"".join(
        name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data
        for name, data in sorted(FILES.items())
    )
    assert directory_sha256(tmp_path) == hashlib.sha256(stream).hexdigest()
    assert file_sha256(tmp_path / "model.lgb.txt") == hashlib.sha256(b"tree\n").hexdigest()


def test_independent_of_creation_order_times_and_location(tmp_path: Path):
    first = _tree(tmp_path / "a", FILES)
    second = _tree(tmp_path / "b", dict(reversed(list(FILES.items()))))
    os.utime(second / "bundle.json", (0, 0))
    (second / "empty-dir").mkdir()
    assert directory_sha256(first) == directory_sha256(second)


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "model.lgb.txt").write_bytes(b"tree\n "),  # one byte appended
        lambda root: (root / "model.lgb.txt").rename(root / "model2.lgb.txt"),
        lambda root: (root / "extra").write_bytes(b""),
        lambda root: (root / "sub" / "x.bin").unlink(),
    ],
)
def test_any_change_changes_the_digest(tmp_path: Path, change):
    root = _tree(tmp_path, FILES)
    before = directory_sha256(root)
    change(root)
    assert directory_sha256(root) != before


def test_moving_bytes_between_files_changes_the_digest(tmp_path: Path):
    a = _tree(tmp_path / "a", {"f1": b"ab", "f2": b"c"})
    b = _tree(tmp_path / "b", {"f1": b"a", "f2": b"bc"})
    assert directory_sha256(a) != directory_sha256(b)


def test_not_a_directory(tmp_path: Path):
    with pytest.raises(NotADirectoryError):
        directory_sha256(tmp_path / "missing")
