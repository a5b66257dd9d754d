"""Prometheus metrics, rendered in the text exposition format 0.0.4 (written here: the format is
small, and the gateway then needs no client library).

Later subsystems (outbox, OTA engine, bill runs) add their own series to the same ``Metrics``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import TypeVar

Labels = tuple[tuple[str, str], ...]
M = TypeVar("M", bound="_Metric")

_DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help = help_text

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:
        return self.header()


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help_text)
        self._values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> list[str]:
        return self.header() + [
            f"{self.name}{_labels(k)} {_num(v)}" for k, v in sorted(self._values.items())
        ]


class Gauge(_Metric):
    """A value read when scraped (e.g. a pool size), from a callback."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        super().__init__(name, help_text)
        self._read = read

    def render(self) -> list[str]:
        return [*self.header(), f"{self.name} {_num(self._read())}"]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str,
                 buckets: Sequence[float] = _DEFAULT_BUCKETS) -> None:
        super().__init__(name, help_text)
        self.buckets = tuple(buckets)
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        counts, totals = self._series.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        totals[0] += value

    def render(self) -> list[str]:
        lines = self.header()
        for key, (counts, totals) in sorted(self._series.items()):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                lines.append(f"{self.name}_bucket{_labels(key, (('le', _num(bound)),))} "
                             f"{running}")
            lines.append(f"{self.name}_sum{_labels(key)} {_num(totals[0])}")
            lines.append(f"{self.name}_count{_labels(key)} {running}")
        return lines


class Metrics:
    """The registry of one gateway process."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self.http_requests = self.add(Counter(
            "onecard_http_requests_total", "HTTP requests by method, route and status"))
        self.http_seconds = self.add(Histogram(
            "onecard_http_request_seconds", "HTTP request latency by route"))
        self.records = self.add(Counter(
            "onecard_terminal_records_total", "terminal records received, by outcome"))
        self.lifecycle = self.add(Counter(
            "onecard_lifecycle_operations_total", "card lifecycle operations by operation"))
        self.events = self.add(Counter(
            "onecard_domain_events_total", "domain events committed, by name"))

    def add(self, metric: M) -> M:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} registered twice")
        self._metrics[metric.name] = metric
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"
