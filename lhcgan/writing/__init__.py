"""Writers: `Events` → file, chosen by suffix (.root, .lhe, .lhe.gz), always atomic."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from lhcgan.errors import OutputError
from lhcgan.events import Events
from lhcgan.writing.lhe import write_lhe
from lhcgan.writing.root import write_root

__all__ = ["write", "write_lhe", "write_root", "output_format"]


def output_format(path: str | os.PathLike[str]) -> str:
    """'root' or 'lhe' from the suffix; `OutputError` otherwise."""
    name = os.fspath(path).lower()
    if name.endswith(".root"):
        return "root"
    if name.endswith((".lhe", ".lhe.gz", ".lhef", ".lhef.gz")):
        return "lhe"
    raise OutputError("unknown output format", path=path, hint="use a .root, .lhe or .lhe.gz suffix")


def write(events: Events | Iterable[Events], path: str | os.PathLike[str], **kwargs: Any) -> int:
    """Write events to ``path`` in the format its suffix names; return how many were written."""
    if output_format(path) == "root":
        return write_root(events, path, **kwargs)
    return write_lhe(events, path, **kwargs)
