"""Percentiles and ``name: value`` figure lines shared by the search benchmark scripts."""

from __future__ import annotations

import math


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0 < fraction <= 1); 0.0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def figure(name: str, value: float | int | str) -> None:
    """Print one figure as ``name: value`` (what the smoke test and RESULTS.md read)."""
    shown = f"{value:.1f}" if isinstance(value, float) else str(value)
    print(f"{name}: {shown}", flush=True)
