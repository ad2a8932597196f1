"""The estimated wait of a ticket, from recent service times and the counters open."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

#: Used until a service has served anyone today: five minutes a citizen.
DEFAULT_SERVICE_SECONDS = 300.0


def typical_service_seconds(
    recent: Sequence[float], default: float = DEFAULT_SERVICE_SECONDS
) -> float:
    """The median of recent service durations (robust to one long dossier), or the default."""
    usable = [s for s in recent if s >= 0]
    if not usable:
        return default
    return float(statistics.median(usable))


def estimate_wait_seconds(waiting_ahead: int, typical_seconds: float, open_counters: int) -> int:
    """People ahead shared among the open counters, each taking the typical time."""
    counters = max(1, open_counters)
    return math.ceil(waiting_ahead * typical_seconds / counters)
