"""`mlgen serve`: Prometheus metrics (prometheus-client, a registry of the server's own)."""

from __future__ import annotations

from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self, log_stats: Callable[[], dict[str, float]], model_stats: Callable[[], dict[str, float]]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("mlgen_serve_requests", "HTTP requests by route and status code.",
                                ["route", "status"], registry=r)
        self.errors = Counter("mlgen_serve_errors", "Requests answered with a 4xx or 5xx status, by route.",
                              ["route"], registry=r)
        self.latency = Histogram("mlgen_serve_request_seconds", "Time from receiving a request to its response.",
                                 ["route"], registry=r,
                                 buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.rows = Counter("mlgen_serve_predicted_rows", "Rows predicted.", registry=r)
        self.classes = Counter("mlgen_serve_predictions", "Predictions by predicted class (classifiers).",
                               ["label"], registry=r)
        self.feedback = Counter("mlgen_serve_feedback_rows", "Labels received by /feedback.", registry=r)
        self._gauge(r, "mlgen_serve_log_dropped_rows", "Prediction-log rows dropped (writer stuck or failing).",
                    lambda: log_stats()["dropped"])
        self._gauge(r, "mlgen_serve_log_written_rows", "Prediction-log rows written to Parquet.",
                    lambda: log_stats()["written"])
        self._gauge(r, "mlgen_serve_log_queued_batches", "Requests waiting for the log writer.",
                    lambda: log_stats()["queued"])
        self._gauge(r, "mlgen_serve_model_version", "Registry version being served (0: none).",
                    lambda: model_stats()["version"])
        self._gauge(r, "mlgen_serve_model_refusals", "Versions refused by the sha256 / skops checks since start.",
                    lambda: model_stats()["refusals"])

    @staticmethod
    def _gauge(registry: CollectorRegistry, name: str, doc: str, fn: Callable[[], float]) -> None:
        Gauge(name, doc, registry=registry).set_function(fn)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        if status >= 400:
            self.errors.labels(route).inc()
        self.latency.labels(route).observe(seconds)

    def predicted(self, labels: Any, classifier: bool) -> None:
        self.rows.inc(len(labels))
        if classifier:
            values, counts = _counts(labels)
            for v, c in zip(values, counts):
                self.classes.labels(str(v)).inc(int(c))

    def text(self) -> bytes:
        return generate_latest(self.registry)


def _counts(labels: Any) -> tuple[Any, Any]:
    import numpy as np

    return np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
