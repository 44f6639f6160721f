"""`python -m hepflow` is the `hepflow` command."""

import sys

from hepflow.cli import main

sys.exit(main())
