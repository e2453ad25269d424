"""``python -m cfasim.cli``: the ``cfasim`` command (used by ``torchrun -m cfasim.cli``)."""

import sys

from cfasim.cli import main

sys.exit(main())
