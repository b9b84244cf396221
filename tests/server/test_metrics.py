"""The Prometheus text of the server's metrics: the request latency histogram (cumulative buckets)."""

from __future__ import annotations

from dicomkit.server.metrics import Metrics


def test_request_latency_histogram_is_cumulative_by_service() -> None:
    metrics = Metrics()
    for seconds in (0.0004, 0.003, 0.003, 0.2, 120.0):
        metrics.answered("find", "C-FIND", seconds)
    metrics.answered("move", "C-MOVE", 1.5)
    lines = set(metrics.render().splitlines())
    assert "# TYPE dicomkit_request_seconds histogram" in lines
    find = 'dicomkit_request_seconds_bucket{service="find",request="C-FIND",le="%s"} %d'
    for bound, count in (("0.001", 1), ("0.0025", 1), ("0.005", 3), ("0.1", 3), ("0.25", 4), ("60", 4), ("+Inf", 5)):
        assert find % (bound, count) in lines
    assert 'dicomkit_request_seconds_count{service="find",request="C-FIND"} 5' in lines
    assert 'dicomkit_request_seconds_sum{service="find",request="C-FIND"} 120.2064' in lines
    assert 'dicomkit_request_seconds_bucket{service="move",request="C-MOVE",le="1"} 0' in lines
    assert 'dicomkit_request_seconds_bucket{service="move",request="C-MOVE",le="2.5"} 1' in lines


def test_an_idle_server_shows_an_empty_histogram() -> None:
    lines = Metrics().render().splitlines()
    assert 'dicomkit_request_seconds_count{service="find",request="C-FIND"} 0' in lines
