"""lhcgan: learn LHC tt̄ events with a GAN and write unweighted events.

Pipeline: file → `read` → `Events` → model → `Events` → `write` / validation.
"""

from lhcgan.errors import LhcganError
from lhcgan.events import Events
from lhcgan.process import TTBAR, Process, Resonance, Slot
from lhcgan.reading import iterate, read
from lhcgan.version import __version__
from lhcgan.writing import write

__all__ = [
    "TTBAR",
    "Events",
    "LhcganError",
    "Process",
    "Resonance",
    "Slot",
    "__version__",
    "iterate",
    "read",
    "write",
]
