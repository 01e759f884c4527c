"""`python -m connector.cli`, as the tests and the README start the servers."""

import sys

from . import main

sys.exit(main())
