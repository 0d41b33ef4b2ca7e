"""A client's control message against where its socket stands: the store operation or a refusal."""

from __future__ import annotations

import pytest

from roulette.errors import PeerError
from roulette.identity import SessionId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.socket_actions import ControlMessage, End, Join, Leave, Next, Reconnect
from roulette.matchmaking.socket_rules import SocketRules, Standing, admit
from roulette.protocol import messages as m

from .socket_builders import RULES, session

IDLE = Standing(Phase.IDLE, None, peer_gone=False, last_join=None)
PAIRED = Standing(Phase.PAIRED, session(), peer_gone=False, last_join=m.JoinQueue(chain_id=5))
PEER_GONE = Standing(Phase.PAIRED, session(), peer_gone=True, last_join=None)
RECONNECT = m.Reconnect(session_id="s1", resume_token="t")


@pytest.mark.parametrize(
    ("msg", "standing", "op"),
    [
        (m.JoinQueue(chain_id=5), IDLE, Join(m.JoinQueue(chain_id=5))),
        (m.JoinQueue(chain_id=1), PEER_GONE, Join(m.JoinQueue(chain_id=1), SessionId("s1"))),
        (m.LeaveQueue(), IDLE, Leave()),
        (m.Next(), IDLE, Next(None, m.JoinQueue(chain_id=1))),  # the first served chain
        (m.Next(), PAIRED, Next(SessionId("s1"), m.JoinQueue(chain_id=5))),  # the last join
        (m.EndSession(session_id="s1"), PAIRED, End(SessionId("s1"))),
        (RECONNECT, IDLE, Reconnect(RECONNECT)),
    ],
)
def test_a_message_whose_preconditions_hold_becomes_its_store_operation(
    msg: ControlMessage, standing: Standing, op: object
) -> None:
    assert admit(msg, standing, RULES) == op


@pytest.mark.parametrize(
    ("msg", "standing", "code"),
    [
        (m.JoinQueue(chain_id=1), PAIRED, "already_in_session"),
        (m.JoinQueue(chain_id=9), IDLE, "chain_not_allowed"),
        (m.JoinQueue(chain_id=1, queue="vip"), IDLE, "unknown_queue"),
        (m.LeaveQueue(), PAIRED, "not_queued"),
        (m.EndSession(session_id="s9"), PAIRED, "not_in_session"),
        (m.EndSession(session_id="s1"), IDLE, "not_in_session"),
        (RECONNECT, PAIRED, "already_in_session"),
    ],
)
def test_a_message_whose_preconditions_fail_is_refused_with_a_peer_error(
    msg: ControlMessage, standing: Standing, code: str
) -> None:
    with pytest.raises(PeerError) as refused:
        admit(msg, standing, RULES)
    assert refused.value.code == code


def test_a_named_queue_is_admitted_where_named_queues_are_served() -> None:
    join = m.JoinQueue(chain_id=1, queue="vip")
    assert admit(join, IDLE, SocketRules(named_queues=True)) == Join(join)
