"""``python -m roulette`` runs the command line."""

import sys

from roulette.cli import main

sys.exit(main())
