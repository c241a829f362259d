"""What a reader read, accepted and skipped, and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ReadReport:
    """Counts of one read.

    Attributes:
        path: the file read.
        read: events read from the file.
        accepted: events that hold the full decay chain of the process.
        skipped: number of skipped events per reason.
    """

    path: str
    read: int = 0
    accepted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, read: int, accepted: int, skipped: Counter[str]) -> None:
        self.read += read
        self.accepted += accepted
        self.skipped.update(skipped)

    def summary(self) -> str:
        """One line, e.g. '1000 read, 990 accepted, 10 skipped (10 × semileptonic ...)'."""
        n_skip = sum(self.skipped.values())
        text = f"{self.path}: {self.read} read, {self.accepted} accepted, {n_skip} skipped"
        if n_skip:
            text += " (" + "; ".join(f"{n} × {why}" for why, n in self.skipped.most_common()) + ")"
        return text

    def to_dict(self) -> dict:
        return {"path": self.path, "read": self.read, "accepted": self.accepted, "skipped": dict(self.skipped)}
