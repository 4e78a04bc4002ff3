"""`python -m itflow_api`: the same as the `itflow-api` command."""
import sys

from .lib.cli import main

sys.exit(main())
