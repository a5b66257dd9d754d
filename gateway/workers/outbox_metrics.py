"""The outbox's series on ``/metrics``."""

from __future__ import annotations

from gateway.metrics import Counter, Histogram, Metrics, _escape, _Metric

_SUBMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                   30.0, 60.0)


class StateGauge(_Metric):
    """Rows per state, as last counted (the dispatcher counts every few seconds)."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help_text)
        self.values: dict[str, float] = {}

    def render(self) -> list[str]:
        return self.header() + [f'{self.name}{{state="{_escape(k)}"}} {int(v)}'
                                for k, v in sorted(self.values.items())]


class OutboxMetrics:
    def __init__(self, registry: Metrics | None) -> None:
        registry = registry or Metrics()
        self.messages = registry.add(StateGauge(
            "onecard_sms_outbox_messages", "outbox rows per state (queued, submitted, "
            "delivered, failed, expired, opted_out)"))
        self.transitions = registry.add(Counter(
            "onecard_sms_transitions_total", "outbox messages moved to a state by this node"))
        self.segments = registry.add(Counter(
            "onecard_sms_segments_total", "segments accepted by the SMSC and receipted, "
                                          "by event"))
        self.submit_seconds = registry.add(Histogram(
            "onecard_sms_submit_seconds", "from a segment handed to the ESME to its "
                                          "submit_sm_resp (window and throttling included)",
            _SUBMIT_BUCKETS))
        self.in_flight = 0
        registry.add(_InFlight(self))


class _InFlight(_Metric):
    kind = "gauge"

    def __init__(self, owner: OutboxMetrics) -> None:
        super().__init__("onecard_sms_segments_in_flight",
                         "segments handed to the ESME and not answered yet")
        self.owner = owner

    def render(self) -> list[str]:
        return [*self.header(), f"{self.name} {self.owner.in_flight}"]
