"""The unit of work: SQLite writer queueing, error translation."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import keys
from gateway.errors import StorageUnavailable


async def test_a_writer_waiting_too_long_gives_up(client: Any) -> None:
    deps = client.app[keys.DEPS]
    deps.database.lock_timeout_s = 0.2
    async with deps.uow():
        with pytest.raises(StorageUnavailable, match="locked"):
            async with deps.uow():
                pass
        async with deps.uow(readonly=True) as reader:  # readers never queue
            assert await reader.enterprises.by_code("nobody") is None
    async with deps.uow():  # the lock was released
        pass
