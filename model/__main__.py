"""``python -m model``: the training job's command line."""

from model.cli import main

raise SystemExit(main())
