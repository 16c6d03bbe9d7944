"""SHA-256 digests of files and directories (artifact integrity).

Directory scheme (version 1): walk ``path`` recursively and take every file (a symlink to a
file is read through; directories themselves, empty or not, contribute nothing). Sort the files by
their path relative to ``path`` written with ``/`` separators, compared as Python strings
(code-point order). For each file, feed the SHA-256 with::

    <relative path, UTF-8> NUL <file size in bytes, decimal ASCII> NUL <file bytes>

The digest is the hex SHA-256 of that stream. The length prefix makes the encoding
unambiguous, so renaming, moving, adding, removing or changing any byte of any file changes
the digest, while timestamps, permissions and the directory's own location do not.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = Path(tmp)
...     _ = (root / "a.txt").write_bytes(b"hello")
...     (root / "sub").mkdir()
...     _ = (root / "sub" / "b.bin").write_bytes(b"")
...     expected = hashlib.sha256(b"a.txt\\x005\\x00hello" + b"sub/b.bin\\x000\\x00").hexdigest()
...     directory_sha256(root) == expected
True
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def _feed(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of one file's bytes. Raises FileNotFoundError if it does not exist.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as handle:
    ...     _ = handle.write(b"abc"); handle.flush()
    ...     file_sha256(Path(handle.name))[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    _feed(digest, Path(path))
    return digest.hexdigest()


def directory_sha256(path: Path) -> str:
    """Hex SHA-256 of a directory's files, by the scheme in this module's docstring.

    Raises NotADirectoryError if ``path`` is not a directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for relative, file in files:
        digest.update(relative.encode("utf-8") + b"\0")
        digest.update(str(file.stat().st_size).encode("ascii") + b"\0")
        _feed(digest, file)
    return digest.hexdigest()


def model_sha256(bundle_dir: Path) -> str:
    """Hex SHA-256 of what a bundle predicts with: the estimator file's bytes plus the
    preprocessing in ``bundle.json`` (task, trainer, features, categories, classes), but not
    its bookkeeping (library versions, training info). Two bundles with the same digest make
    the same predictions; semantic versioning calls a re-registration of one a PATCH.
    """
    import json

    root = Path(bundle_dir)
    meta = json.loads((root / "bundle.json").read_text())
    keys = ("task", "trainer", "features", "categorical", "categories", "classes",
            "estimator_format")
    digest = hashlib.sha256(json.dumps({k: meta.get(k) for k in keys}, sort_keys=True).encode())
    _feed(digest, root / meta["estimator_file"])
    return digest.hexdigest()
