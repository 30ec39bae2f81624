"""`python tools/classroom COMMAND`: the classroom's command line (cli.py); `make classroom` calls it."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classroom.cli import main  # noqa: E402  (after the path that finds the package)

sys.exit(main())
