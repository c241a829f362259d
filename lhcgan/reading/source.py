"""Opening input files: existence, compression, and errors that name the file."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lhcgan.errors import FileMissingError, MalformedFileError, TruncatedFileError

GZIP_MAGIC = b"\x1f\x8b"
ROOT_MAGIC = b"root"


def check_exists(path: str | os.PathLike[str]) -> Path:
    """The path, if it is a readable file; a one-line error otherwise."""
    p = Path(path)
    if not p.exists():
        raise FileMissingError("no such file", path=p, hint="check the path")
    if not p.is_file():
        raise FileMissingError("not a regular file", path=p, hint="give a file, not a directory")
    return p


def sniff(path: str | os.PathLike[str]) -> bytes:
    """The first 4 bytes of a file, to detect its format by content."""
    with open(check_exists(path), "rb") as f:
        return f.read(4)


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a plain or gzip-compressed file for binary reading, by content."""
    p = check_exists(path)
    if sniff(p)[:2] == GZIP_MAGIC:
        return gzip.open(p, "rb")  # type: ignore[return-value]
    return open(p, "rb")


def iter_blocks(path: str | os.PathLike[str], size: int) -> Iterator[bytes]:
    """Yield the decompressed bytes of a file in blocks of about ``size``.

    Raises TruncatedFileError for a gzip stream that ends early and
    MalformedFileError for a corrupt one.
    """
    with open_binary(path) as f:
        while True:
            try:
                block = f.read(size)
            except EOFError as exc:
                raise TruncatedFileError(
                    "gzip stream ends early (truncated file)", path=path, hint="re-download or regenerate the file"
                ) from exc
            except (gzip.BadGzipFile, zlib.error, io.UnsupportedOperation) as exc:
                raise MalformedFileError(f"corrupt gzip data ({exc})", path=path, hint="re-download the file") from exc
            if not block:
                return
            yield block
