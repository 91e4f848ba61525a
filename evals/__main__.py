"""``python -m evals``: the same as ``rag eval``."""
import sys

from evals.cli import main

sys.exit(main())
