"""``python -m gensr``: the gensr command."""
import sys

from .cli import main

sys.exit(main())
