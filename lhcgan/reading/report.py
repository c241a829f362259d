"""What a reader read, accepted and skipped, and why, and the accepted events' weights."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from lhcgan.stats import kish_size


@dataclass
class ReadReport:
    """Counts of one read.

    Attributes:
        path: the file read.
        read: events read from the file.
        accepted: events that hold the full decay chain of the process.
        skipped: number of skipped events per reason.
        sum_w, sum_w2: Σw and Σw² of the accepted events (their count where the file has no weights).
        negative: accepted events with a negative weight.
        weighted: whether the file carried weights that differ between events.
        channels: accepted events per decay channel.
        variations: the theory variations each event carries, e.g. "9 scale, 102 pdf" ("" for none).
    """

    path: str
    read: int = 0
    accepted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    sum_w: float = 0.0
    sum_w2: float = 0.0
    negative: int = 0
    weighted: bool = False
    channels: Counter[str] = field(default_factory=Counter)
    variations: str = ""
    _first_w: float | None = field(default=None, repr=False)

    def add(self, read: int, accepted: int, skipped: Counter[str], weights: np.ndarray | None = None,
            channels: Counter[str] | None = None) -> None:
        """Count one chunk; ``weights`` (accepted,) are the accepted events' weights, None for unweighted;
        ``channels`` the accepted events per channel."""
        self.read += read
        self.accepted += accepted
        self.skipped.update(skipped)
        self.channels.update(channels or {})
        if weights is None:
            self.sum_w += accepted
            self.sum_w2 += accepted
            return
        w = np.asarray(weights, dtype=np.float64)
        self.sum_w += float(w.sum())
        with np.errstate(over="ignore"):  # absurd weights give Σw² = inf and an effective size of 0
            self.sum_w2 += float((w * w).sum())
        self.negative += int((w < 0).sum())
        if len(w):
            if self._first_w is None:
                self._first_w = float(w[0])
            self.weighted |= bool((w != self._first_w).any())

    @property
    def effective_size(self) -> float:
        """Kish's effective sample size (Σw)² / Σw² of the accepted events."""
        return kish_size(self.sum_w, self.sum_w2)

    def summary(self) -> str:
        """One line, e.g. '1000 read, 990 accepted: 570 allhad, 360 ljets, 60 dilep; 10 skipped (10 × t → W s or t → W d ...)',
        plus the weights."""
        n_skip = sum(self.skipped.values())
        text = f"{self.path}: {self.read} read, {self.accepted} accepted"
        if self.channels:
            text += ": " + ", ".join(f"{k} {name}" for name, k in self.channels.items())
        text += f"; {n_skip} skipped"
        if n_skip:
            text += " (" + "; ".join(f"{n} × {why}" for why, n in self.skipped.most_common()) + ")"
        if self.weighted:
            text += (f"; weighted: Σw = {self.sum_w:.6g}, {self.negative / max(self.accepted, 1):.1%} negative, "
                     f"effective size {self.effective_size:,.0f}")
        if self.variations:
            text += f"; variation weights: {self.variations}"
        return text

    def to_dict(self) -> dict:
        return {"path": self.path, "read": self.read, "accepted": self.accepted, "skipped": dict(self.skipped),
                "sum_weights": self.sum_w, "negative_weights": self.negative,
                "effective_size": self.effective_size, "weighted": self.weighted,
                "channels": dict(self.channels), "variations": self.variations}
