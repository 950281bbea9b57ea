"""RedisBroker beyond the contract: two brokers as two processes, the listener's liveness and reconnects.

Against a private ``redis-server`` (free port, in memory) wherever the test freezes or cuts Redis, so
that the shared one, and whoever else uses it, is never touched.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from actors.config import Settings
from actors.errors import ConfigError, Unavailable
from actors.protocol.positions import Since
from actors.rooms.broker import Checkpoint, Publication
from actors.rooms.brokers import open_broker
from tests.conftest import wait_until

pytestmark = pytest.mark.redis


class Opened:
    def __init__(self) -> None:
        self.brokers: list[Any] = []

    def open(self, url: str, **settings: Any) -> tuple[Any, list[Any]]:
        received: list[Any] = []
        broker = open_broker(Settings(redis_url=url, **settings))
        broker.start(received.append)
        self.brokers.append(broker)
        return broker, received


@pytest.fixture
def opened() -> Iterator[Opened]:
    made = Opened()
    yield made
    for broker in made.brokers:
        broker.close()


def test_a_publication_reaches_the_other_process_with_its_position_and_frame(opened, redis_url, redis_prefix):
    a, _ = opened.open(redis_url, redis_prefix=redis_prefix)
    b, heard = opened.open(redis_url, redis_prefix=redis_prefix)
    b.subscribe("lead:1")
    assert wait_until(lambda: b.connected)
    b.subscribe("lead:2")  # connected now: returns once Redis confirmed it
    published = a.publish("lead:2", "LEAD_UPDATED", {"leadId": "2"}, superseding=False)
    assert wait_until(lambda: published in heard)
    assert [p for p in heard if isinstance(p, Publication)] == [published]  # as numbered, frame included
    b.unsubscribe("lead:2")
    a.publish("lead:2", "LEAD_UPDATED", {"leadId": "2"}, superseding=False)
    time.sleep(0.1)
    assert [p for p in heard if isinstance(p, Publication)] == [published]  # not held here any more


def test_a_frozen_redis_is_noticed_by_the_probe_and_the_rooms_are_checkpointed_after(opened, private_redis):
    """A PUB/SUB connection that goes quiet (Redis stopped, not closed) ends within two probe intervals."""
    broker, heard = opened.open(private_redis.url, redis_probe_interval=0.2, redis_reconnect_max=0.2, redis_timeout=0.3)
    broker.subscribe("lead:1")
    assert wait_until(lambda: broker.connected)
    broker.publish("lead:1", "LEAD_UPDATED", {"leadId": "1"}, superseding=False)
    assert private_redis.process is not None
    assert wait_until(lambda: any(isinstance(p, Checkpoint) for p in heard))  # the first session's
    heard.clear()
    os.kill(private_redis.process.pid, signal.SIGSTOP)
    frozen = time.monotonic()
    assert wait_until(lambda: not broker.connected, timeout=3)
    noticed = time.monotonic() - frozen
    assert noticed < 1.0, noticed  # two probe intervals of 0.2 s, and a little
    with pytest.raises(Unavailable):
        broker.publish("lead:1", "LEAD_UPDATED", {"leadId": "1"}, superseding=False)
    os.kill(private_redis.process.pid, signal.SIGCONT)
    assert wait_until(lambda: broker.connected, timeout=5)
    assert wait_until(lambda: any(isinstance(p, Checkpoint) for p in heard), timeout=5)
    checkpoint = next(p for p in heard if isinstance(p, Checkpoint))
    # the publish that timed out (503) reached the frozen Redis and ran once it was thawed: a 503 says "not
    # known to be stored", and a caller that retries may publish twice (docs/scaling.md)
    assert checkpoint.room == "lead:1" and checkpoint.position.offset in (1, 2)
    assert broker.describe()["sessions"] >= 2


def test_a_redis_that_restarted_empty_checkpoints_a_new_epoch(opened, private_redis):
    broker, heard = opened.open(private_redis.url, redis_probe_interval=0.2, redis_reconnect_max=0.2, redis_timeout=0.3)
    broker.subscribe("lead:1")
    first = broker.publish("lead:1", "LEAD_UPDATED", {"leadId": "1"}, superseding=False)
    assert wait_until(lambda: any(isinstance(p, Checkpoint) for p in heard))  # the first session's
    heard.clear()
    private_redis.stop()
    private_redis.start()
    assert wait_until(lambda: any(isinstance(p, Checkpoint) for p in heard), timeout=5)
    checkpoint = next(p for p in heard if isinstance(p, Checkpoint))
    assert checkpoint.position.epoch != first.epoch and checkpoint.position.offset == 0
    assert broker.history("lead:1", Since(first.epoch, 0)).complete is False


def test_redis_url_wins_over_broker_url_and_a_bad_scheme_is_a_config_error(redis_url):
    settings = Settings(redis_url=redis_url, broker_url="memory://")
    assert settings.effective_broker_url == redis_url
    with pytest.raises(ConfigError) as refused:
        open_broker(Settings(broker_url="kafka://x"))
    assert "expected one of memory://, redis://" in refused.value.message
    with pytest.raises(ConfigError) as workers:
        Settings(jwt_secret="x" * 40, workers=2).validate()
    assert "--workers 2 needs REDIS_URL" in workers.value.message
