"""The server's counters, and their Prometheus text exposition format (version 0.0.4).

Counters and gauges are plain attributes updated from the event loop and worker threads (each update is
one operation under the GIL, or under the lock where it reads and writes); :meth:`Metrics.render` writes
them as ``/metrics`` serves them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.associations_total = 0
        self.associations_active = 0
        self.associations_rejected = 0
        self.stores: Counter[str] = Counter()  # by outcome: stored, identical, replaced
        self.store_failures: Counter[str] = Counter()  # by status, "0xA700"
        self.bytes_received = 0
        self.echoes = 0
        self.commit_batches = 0
        self.commit_seconds = 0.0
        self.store_seconds: list[float] = [0.0, 0.0]  # sum, count
        self._lock = threading.Lock()
        self.gauges: dict[str, Callable[[], float]] = {}

    def stored(self, outcome: str, size: int, seconds: float) -> None:
        with self._lock:
            self.stores[outcome] += 1
            self.bytes_received += size
            self.store_seconds[0] += seconds
            self.store_seconds[1] += 1

    def failed(self, status: int) -> None:
        with self._lock:
            self.store_failures[f"0x{status:04X}"] += 1

    def committed(self, batch: int, seconds: float) -> None:
        with self._lock:
            self.commit_batches += 1
            self.commit_seconds += seconds

    def render(self) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f"{name}{labels} {_number(value)}")

        with self._lock:
            metric("dicomkit_up_seconds", "gauge", "Seconds since the server started.",
                   [("", time.time() - self.started)])
            metric("dicomkit_associations_total", "counter", "Associations accepted.",
                   [("", self.associations_total)])
            metric("dicomkit_associations_active", "gauge", "Associations open now.",
                   [("", self.associations_active)])
            metric("dicomkit_associations_rejected_total", "counter", "Associations rejected.",
                   [("", self.associations_rejected)])
            metric("dicomkit_echoes_total", "counter", "C-ECHO requests answered.", [("", self.echoes)])
            metric("dicomkit_stores_total", "counter", "C-STORE requests answered with success, by outcome.",
                   [(f'{{outcome="{k}"}}', v) for k, v in sorted(self.stores.items())] or [('{outcome="stored"}', 0)])
            metric("dicomkit_store_failures_total", "counter", "C-STORE requests refused, by status.",
                   [(f'{{status="{k}"}}', v) for k, v in sorted(self.store_failures.items())]
                   or [('{status="0xA700"}', 0)])
            metric("dicomkit_received_bytes_total", "counter", "Bytes of data sets stored.",
                   [("", self.bytes_received)])
            metric("dicomkit_store_seconds", "summary", "Time from the end of a data set to its answer.",
                   [("_sum", self.store_seconds[0]), ("_count", self.store_seconds[1])])
            metric("dicomkit_index_commits_total", "counter", "Index transactions committed (group commits).",
                   [("", self.commit_batches)])
            metric("dicomkit_index_commit_seconds_total", "counter", "Time spent in index transactions.",
                   [("", self.commit_seconds)])
        for name, read in sorted(self.gauges.items()):
            try:
                value = read()
            except Exception:  # a gauge that cannot be read now (database down) is left out
                continue
            metric(name, "gauge", name.replace("_", " "), [("", value)])
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


__all__ = ["Metrics"]
