"""``python -m client --url URL ...``: see :mod:`client`."""

from client.cli import main

raise SystemExit(main())
