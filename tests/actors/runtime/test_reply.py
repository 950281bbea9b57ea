"""Reply, the answer slot of told messages, and what a waiting caller gets when the handler raises."""

from dataclasses import dataclass
from typing import Any

import gevent
import pykka
import pytest

from actors.config import Settings
from actors.runtime.actor import Failure, TracedActor
from actors.runtime.context import ActorContext
from actors.runtime.reply import Reply
from tests.conftest import SECRET


def test_a_value_set_before_or_after_get_reaches_the_waiter():
    early = Reply()
    early.set({"offset": 1})
    assert early.done() and early.get(timeout=1) == {"offset": 1}
    late = Reply()
    gevent.spawn_later(0.01, late.set, 7)
    assert late.get(timeout=1) == 7


def test_no_answer_in_time_is_a_pykka_timeout():
    with pytest.raises(pykka.Timeout):
        Reply().get(timeout=0.01)


def test_an_outer_gevent_timeout_is_not_turned_into_a_reply_timeout():
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.01):
        Reply().get(timeout=5)


def test_set_exception_raises_in_the_waiter():
    reply = Reply()
    error = ValueError("no such room")
    reply.set_exception(exc_info=(ValueError, error, None))
    with pytest.raises(ValueError, match="no such room"):
        reply.get(timeout=1)


@dataclass(frozen=True)
class Explode:
    reply: Any


class Exploding(TracedActor):
    def handle(self, message: Any) -> Any:
        raise RuntimeError("handler bug")


@pytest.mark.parametrize("debug", [False, True])
def test_a_failing_handler_answers_a_waiting_reply_at_once(debug):
    settings = Settings(jwt_secret=SECRET, websocket_debug=debug)
    ctx = ActorContext.create(settings)
    ref = Exploding.start(ctx, "exploding")
    try:
        reply = Reply()
        ref.tell(Explode(reply))
        with gevent.Timeout(1):  # not the caller's ask_timeout: the failure comes back as soon as it happens
            result = reply.get(timeout=5)
        assert isinstance(result, Failure) and str(result.error) == "handler bug"
        assert ref.is_alive()  # resume: the actor goes on with its next message
    finally:
        ref.stop()
