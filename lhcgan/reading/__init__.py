"""Readers: any supported file → `Events`.

``read(path)`` returns all events; ``iterate(path)`` streams chunks. The format is
detected from the content (ROOT magic, gzip or LHE text), not the suffix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from lhcgan.errors import ConfigError, WrongProcessError
from lhcgan.events import Events
from lhcgan.process import TTBAR, Process
from lhcgan.reading.lhe import LHEReader
from lhcgan.reading.report import ReadReport
from lhcgan.reading.root import RootReader
from lhcgan.reading.source import ROOT_MAGIC, sniff

__all__ = ["LHEReader", "ReadReport", "RootReader", "checked", "iterate", "open_reader", "read"]


def open_reader(
    path: str | os.PathLike[str], *, process: Process = TTBAR, collection: str = "auto",
    channels: list[str] | tuple[str, ...] | None = None,
) -> LHEReader | RootReader:
    """A reader for ``path``: `RootReader` for ROOT files, `LHEReader` otherwise.

    Args:
        collection: for ROOT files, "auto", "lhcgan", "LHEPart" or "GenPart".
        channels: read only these decay channels (e.g. ["ljets"]); the others are skipped and counted.
    """
    if channels:
        try:
            process = process.restrict(list(channels))
        except KeyError as exc:
            raise ConfigError(str(exc).strip("'\""), path=path, hint="see `lhcgan read --help`") from None
    if sniff(path) == ROOT_MAGIC:
        return RootReader(path, process, collection)
    return LHEReader(path, process)


def checked(reader: LHEReader | RootReader) -> Iterator[Events]:
    """The reader's chunks, then `WrongProcessError` if it accepted no event at all."""
    yield from reader
    _check_accepted(reader.report)


def iterate(path: str | os.PathLike[str], **kwargs) -> Iterator[Events]:
    """Stream `Events` chunks from a file; raises `WrongProcessError` at the end if none was accepted."""
    yield from checked(open_reader(path, **kwargs))


def read(path: str | os.PathLike[str], **kwargs) -> Events:
    """Read every accepted event of a file; ``.report`` tells what was read and skipped.

    The events' process is restricted to the channels the file holds (`Events.present`).
    """
    reader = open_reader(path, **kwargs)
    events = Events.concatenate(list(checked(reader))).present()
    events.report = reader.report
    return events


def _check_accepted(report: ReadReport) -> None:
    if report.accepted == 0:
        reasons = "; ".join(f"{n} × {why}" for why, n in report.skipped.most_common(3))
        raise WrongProcessError(
            f"0 of {report.read} events contain a tt̄ decay that lhcgan models" + (f" ({reasons})" if reasons else ""),
            path=report.path,
            hint="give a pp → tt̄ sample with t → b W, W → q q̄′ or ℓν (ℓ = e, μ, τ), e.g. from `lhcgan simulate`",
        )
