"""``python -m polycode_utils.book``: the build tool, as the console script ``polycode``."""

import sys

from polycode_utils.book.cli import main

sys.exit(main())
