"""``python -m hepflow.serve --models DIR ...``: the same as ``hepflow serve``."""

import sys

from hepflow.serve.cli import main

sys.exit(main())
