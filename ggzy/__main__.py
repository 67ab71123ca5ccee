"""``python -m ggzy``: the ggzy command."""

import sys

from ggzy.cli import main

sys.exit(main())
