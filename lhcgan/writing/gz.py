"""Reproducible gzip output: the same content gives the same bytes."""

from __future__ import annotations

import gzip
import os
from typing import BinaryIO


class _ClosingGzip(gzip.GzipFile):
    """A GzipFile that also closes the file object it writes to."""

    def close(self) -> None:
        raw = self.fileobj
        super().close()
        if raw is not None:
            raw.close()


def open_gzip(path: str | os.PathLike[str], level: int = 6) -> BinaryIO:
    """Open ``path`` for gzip writing with no file name and no time stamp in the header."""
    return _ClosingGzip(filename="", mode="wb", fileobj=open(path, "wb"), compresslevel=level, mtime=0)  # type: ignore[return-value]
