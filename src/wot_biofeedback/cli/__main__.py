"""``python -m wot_biofeedback.cli``: the ``wot`` command."""

import sys

from . import main

sys.exit(main())
