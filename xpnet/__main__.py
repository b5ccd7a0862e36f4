"""``python -m xpnet``: the command line."""

from xpnet.cli import main

raise SystemExit(main())
