"""`python -m connector.cli` (also `python -m connector`)."""

import sys

from . import main

sys.exit(main())
