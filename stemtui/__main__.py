"""Allow ``python -m stemtui``."""

from stemtui.cli import main

raise SystemExit(main())
