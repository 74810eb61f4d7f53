"""`python -m ml.serve`: see `ml.serve.server`."""

import sys

from ml.serve.server import main

sys.exit(main())
