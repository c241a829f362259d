"""Accept one `Events` or a stream of them, uniformly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lhcgan.events import Events


def as_chunks(events: Events | Iterable[Events]) -> Iterator[Events]:
    """Yield `Events` chunks from a single `Events` or any iterable of them."""
    if isinstance(events, Events):
        yield events
    else:
        yield from events
