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

# seconds: the upper bounds of the request latency histogram's buckets (then +Inf)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    """Cumulative buckets, sum and count of observed values (Prometheus histogram)."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        self.sum += value
        self.count += 1

    def samples(self, labels: str) -> list[tuple[str, float]]:
        """``_bucket{...,le=...}`` (cumulative), ``_sum``, ``_count`` with ``labels`` (``a="x",b="y"``)."""
        out, running = [], 0
        sep = "," if labels else ""
        for bound, n in zip(self.bounds, self.counts, strict=True):
            running += n
            out.append((f'_bucket{{{labels}{sep}le="{_number(bound)}"}}', float(running)))
        out.append((f'_bucket{{{labels}{sep}le="+Inf"}}', float(self.count)))
        out.append((f"_sum{{{labels}}}" if labels else "_sum", self.sum))
        out.append((f"_count{{{labels}}}" if labels else "_count", float(self.count)))
        return out


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
        # (service, request) -> latency of the requests answered: first request to final response
        self.requests: dict[tuple[str, str], Histogram] = {}
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

    def answered(self, service: str, request: str, seconds: float) -> None:
        """A request of ``service`` (find, move, get, worklist, mpps, commit) answered in ``seconds``."""
        with self._lock:
            histogram = self.requests.get((service, request))
            if histogram is None:
                histogram = self.requests[(service, request)] = Histogram()
            histogram.observe(seconds)

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
            requests = sorted(self.requests.items()) or [(("find", "C-FIND"), Histogram())]
            metric("dicomkit_request_seconds", "histogram",
                   "Time from a request (C-FIND, C-MOVE, C-GET, N-...) to its final response, by service.",
                   [sample for (service, request), h in requests
                    for sample in h.samples(f'service="{service}",request="{request}"')])
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


__all__ = ["LATENCY_BUCKETS", "Histogram", "Metrics"]
