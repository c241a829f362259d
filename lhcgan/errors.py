"""One error hierarchy for lhcgan.

Every error carries what went wrong, where (file and event, when known) and what
to do about it, and renders as a single line, so the CLI can print it as is.
"""

from __future__ import annotations

import os


class LhcganError(Exception):
    """Base class of all lhcgan errors.

    Args:
        message: what went wrong.
        path: the file concerned, if any.
        event: 0-based event number in that file, if known.
        hint: what the user can do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        event: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.event = event
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.event is not None:
            where.append(f"event {self.event}")
        text = ": ".join([*where, self.message])
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.split())  # always one line


class InputError(LhcganError):
    """An input file cannot be used."""


class FileMissingError(InputError):
    """The input file does not exist or cannot be opened."""


class TruncatedFileError(InputError):
    """The input file ends early (interrupted download or write)."""


class MalformedFileError(InputError):
    """The input file is not valid LHE or ROOT of the expected layout."""


class SchemaError(InputError):
    """A ROOT file has no tree or branches that lhcgan can read."""


class WrongProcessError(InputError):
    """The file holds no fully hadronic tt̄ events."""


class NonFiniteError(InputError):
    """NaN or infinite momenta."""


class OutputError(LhcganError):
    """An output file could not be written (full disk, permissions, bad suffix)."""


class ConfigError(LhcganError):
    """Invalid options or settings."""


class TrainingError(LhcganError):
    """Training cannot go on (diverged, or a checkpoint that does not fit the run)."""
