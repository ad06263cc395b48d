"""Prometheus metrics of the HTTP service (``GET /metrics``, ``prometheus-client``).

=====================================  ===============================================
``kgrec_http_requests_total``          requests, by method, route template and status
``kgrec_http_request_duration_seconds`` latency histogram, same labels
``kgrec_model_info``                   1, labelled with the model version served
``kgrec_catalog_items``                items served (not deleted), and ``..._hidden``
``kgrec_state_refresh_lag_seconds``    seconds since the state last read Neo4j's changes
``kgrec_neo4j_errors_total``           requests answered 503 because Neo4j failed, plus
                                       failed background refreshes
=====================================  ===============================================

Routes are labelled by their template (``/v1/users/{user_id}/recommendations``), never
by the path, so no id reaches a label; a path no route matches is ``unmatched``. Each
app has its own registry: with ``--workers N`` every worker answers ``/metrics`` for
itself (run one worker per container and scrape each, or aggregate by instance).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kgrec.recommender import Recommender

__all__ = ["Metrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _StateCollector(Collector):
    """Gauges read from the serving state at scrape time."""

    def __init__(self, recommender: Callable[[], Recommender | None],
                 request_errors: Callable[[], float]) -> None:
        self._recommender = recommender
        self._request_errors = request_errors

    def collect(self) -> Iterator[Metric]:
        rec = self._recommender()
        failures = float(rec.refresh_failures) if rec is not None else 0.0
        errors = CounterMetricFamily("kgrec_neo4j_errors", "Requests answered 503 because "
                                     "Neo4j failed, and failed background refreshes.",
                                     labels=["where"])
        errors.add_metric(["request"], self._request_errors())
        errors.add_metric(["refresh"], failures)
        yield errors
        if rec is None:
            return
        state = rec.state
        info = GaugeMetricFamily("kgrec_model_info", "The model version served.",
                                 labels=["version"])
        info.add_metric([state.model.version or ""], 1.0)
        yield info
        catalog = state.catalog
        yield GaugeMetricFamily("kgrec_catalog_items", "Items served (not deleted).",
                                value=float(len(catalog) - int(catalog.deleted.sum())))
        yield GaugeMetricFamily("kgrec_catalog_hidden_items", "Items hidden.",
                                value=float(catalog.hidden.sum()))
        yield GaugeMetricFamily("kgrec_state_refresh_lag_seconds",
                                "Seconds since the serving state last read Neo4j's changes.",
                                value=max(0.0, time.time() - rec.refreshed_at))


class Metrics:
    """The metrics of one app.

    Args:
        recommender: returns the app's recommender (None before start-up).
    """

    def __init__(self, recommender: Callable[[], Recommender | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("kgrec_http_requests", "HTTP requests.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("kgrec_http_request_duration_seconds",
                                 "HTTP request latency.", ["method", "route", "status"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.neo4j_errors = 0
        self.registry.register(_StateCollector(recommender, lambda: float(self.neo4j_errors)))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request."""
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)
