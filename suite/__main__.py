"""``python -m vgbench``: the command line (``vgbench.cli.main``)."""

from vgbench.cli import main

raise SystemExit(main())
