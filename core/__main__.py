"""Entry point of `python -m core`."""

from __future__ import annotations

import sys

from core.env import set_offline_env

set_offline_env()

from core.cli import main  # noqa: E402

sys.exit(main())
