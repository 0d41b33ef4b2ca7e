"""Node records: JSON round trip, names HAProxy accepts, weights."""

from __future__ import annotations

import pytest

from roulette.balancing.nodes import NodeRecord, NodeState, decode_node, encode_node, server_weight
from roulette.balancing.runtime_api import parse_servers_state


def test_round_trip_and_name() -> None:
    node = NodeRecord("w-1 x/y", "127.0.0.1", 1, 2, 3, 19_000, 5, NodeState.DRAINING, 12.5)
    assert decode_node(encode_node(node)) == node
    assert node.server_name == "n-w-1_x_y"
    assert node.free_fraction() == pytest.approx(18_995 / 19_000)


@pytest.mark.parametrize("raw", ["{}", "not json", '{"node_id": "x"}', "[]"])
def test_bad_records_are_value_errors(raw: str) -> None:
    with pytest.raises(ValueError, match="not a node record"):
        decode_node(raw)


@pytest.mark.parametrize(
    ("capacity", "weight"), [(0, 1), (400, 1), (1000, 1), (3000, 3), (19_000, 19), (10**9, 256)]
)
def test_weight(capacity: int, weight: int) -> None:
    assert server_weight(capacity) == weight


def test_parse_servers_state() -> None:
    reply = (
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight"
        " srv_iweight srv_time_since_last_change srv_check_status srv_check_result"
        " srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id"
        " srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr"
        " srv_agent_addr srv_agent_port\n"
        "4 ws 3 n-w-3 127.0.0.1 0 1 1 1 1 1 0 0 2 18 0 0 - 4022 - 0 4021 - - 4023\n"
    )
    (server,) = parse_servers_state(reply)
    assert (server.backend, server.name, server.port, server.admin_state) == (
        "ws",
        "n-w-3",
        4022,
        1,
    )
