"""``python -m urbansig``: the backend's command line."""

from urbansig.cli import main

raise SystemExit(main())
