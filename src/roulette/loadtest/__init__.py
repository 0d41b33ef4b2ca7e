"""A roulette-shaped load generator: virtual wallet holders who sign in, meet and signal.

``roulette loadtest`` calls :func:`add_arguments`, :func:`options_from_args` and
:func:`run_loadtest`. The pure parts — behaviour (:mod:`.scenario`), numbers (:mod:`.stats`),
wallets (:mod:`.wallet`) — are separate from the processes and sockets that drive them.
"""

from roulette.loadtest.options import LoadtestOptions, add_arguments, options_from_args
from roulette.loadtest.runner import run_loadtest

__all__ = ["LoadtestOptions", "add_arguments", "options_from_args", "run_loadtest"]
