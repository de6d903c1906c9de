"""``python -m raqo_core.cli`` (what ``accelerate launch -m raqo_core.cli`` runs)."""

import sys

from raqo_core.cli import main

sys.exit(main())
