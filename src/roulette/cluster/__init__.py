"""``roulette cluster``: a supervisor keeping N workers alive on shared sockets.

The pure rules (backoff, crash loops, hung workers, reconcile) are in :mod:`.policy`; the
loop that carries them out is :class:`Supervisor`; the management HTTP API is
:class:`ManagementServer`; :func:`run_cluster` puts them together.
"""

from roulette.cluster.management import ManagementServer
from roulette.cluster.node import BOOT_TIMEOUT, EXIT_CONFIG, HEARTBEAT_TIMEOUT, run_cluster
from roulette.cluster.policy import WorkerState
from roulette.cluster.supervisor import EXIT_CRASH_LOOP, SIGNALS, Supervisor

__all__ = [
    "BOOT_TIMEOUT",
    "EXIT_CONFIG",
    "EXIT_CRASH_LOOP",
    "HEARTBEAT_TIMEOUT",
    "SIGNALS",
    "ManagementServer",
    "Supervisor",
    "WorkerState",
    "run_cluster",
]
