"""Write to a temporary file and rename it into place, so no output is ever half-written."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lhcgan.errors import OutputError


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    OS errors (full disk, permissions) become `OutputError`.
    """
    final = Path(path)
    if not final.parent.is_dir():
        raise OutputError("output directory does not exist", path=final, hint="create it first")
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        hint = "free disk space or write elsewhere" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check the path"
        raise OutputError(f"could not write ({exc.strerror or exc})", path=final, hint=hint) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
