"""`python -m connector`: the `segment-connector` command."""

import sys

from .cli import main

sys.exit(main())
