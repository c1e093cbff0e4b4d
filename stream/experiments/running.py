"""Running count, mean and variance of one metric, mergeable (Welford; Chan et al. 1979)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class Running:
    """Count, mean and the sum of squared deviations ``m2`` of the values seen so far."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> None:
        """Fold one value in (Welford's update: stable where the naive sum of squares is not)."""
        if not math.isfinite(value):
            raise ValueError(f"a running mean takes finite numbers, got {value!r}")
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)

    def merge(self, other: Running) -> None:
        """Fold another partition's figures in (Chan, Golub and LeVeque's pairwise update)."""
        if other.count == 0:
            return
        total = self.count + other.count
        delta = other.mean - self.mean
        self.mean += delta * other.count / total
        self.m2 += other.m2 + delta * delta * self.count * other.count / total
        self.count = total

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator); 0.0 below two values."""
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0

    def to_list(self) -> list[float]:
        """The figures as a JSON-ready list (checkpoints)."""
        return [self.count, self.mean, self.m2]

    @classmethod
    def from_list(cls, data: list[float]) -> Running:
        """The inverse of ``to_list``."""
        count, mean, m2 = data
        return cls(int(count), float(mean), float(m2))
