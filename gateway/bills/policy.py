"""When an enterprise's non-urgent SMS may go, and how fast: quiet hours and send rates.

Quiet hours ("22:00-08:00", China time; a span may cross midnight) hold bills and notices, not
what a member is waiting for (answers, top-up and security notices are urgent). The outbox's
``[outbox] quiet_hours`` hold every enterprise's; an enterprise may add its own
(``bill_settings.quiet_hours``), which hold its messages besides.

The per-enterprise rate is in segments per second, a token bucket per enterprise: several
enterprises share one bind (the bind's own contracted rate is the ESME's ``[smsc]
throughput``), and a 100,000-member bill run of one enterprise must not hold everybody
else's SMS behind it. Sans-I/O: the caller passes ``now``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from gateway.bills.errors import BillsError
from gateway.notices import CHINA

_SPAN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


class QuietHoursInvalid(BillsError):
    code = "quiet_hours_invalid"


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, spec: str) -> QuietHours:
        m = _SPAN.fullmatch(spec.strip())
        if m is None:
            raise QuietHoursInvalid("quiet_hours: expected HH:MM-HH:MM (China time)",
                                    field="quiet_hours")
        span = cls(time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4])))
        if span.start == span.end:
            raise QuietHoursInvalid("quiet_hours: an empty span", field="quiet_hours")
        return span

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(CHINA).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release(self, moment: datetime) -> datetime:
        """``moment`` if it is outside the quiet hours, else when they end."""
        if not self.contains(moment):
            return moment
        local = moment.astimezone(CHINA)
        end = datetime.combine(local.date(), self.end, CHINA)
        if end <= local:
            end += timedelta(days=1)
        return end


def not_before(quiet: QuietHours | None, now: datetime, urgent: bool) -> datetime | None:
    """The ``not_before`` of an SMS queued at ``now``: None when it may go at once."""
    if urgent or quiet is None:
        return None
    released = quiet.release(now)
    return None if released == now else released


class RateBuckets:
    """One token bucket per enterprise: ``rate`` segments per second, ``burst`` at most saved.

    ``slot(enterprise, segments, now)`` books the segments of one message and answers when
    they may go: ``now`` when the bucket has them, else the time it will have (the bucket goes
    into debt, so consecutive messages are spread at the rate, never bunched).
    """

    def __init__(self) -> None:
        self._state: dict[int, tuple[float, datetime]] = {}  # tokens, stamp

    def slot(self, enterprise_id: int, rate: float, burst: float, segments: int,
             now: datetime) -> datetime:
        tokens, stamp = self._state.get(enterprise_id, (burst, now))
        tokens = min(burst, tokens + max(0.0, (now - stamp).total_seconds()) * rate)
        tokens -= segments
        self._state[enterprise_id] = (tokens, now)
        if tokens >= 0:
            return now
        return now + timedelta(seconds=-tokens / rate)

    def forget(self, keep: set[int]) -> None:
        for enterprise_id in set(self._state) - keep:
            del self._state[enterprise_id]
