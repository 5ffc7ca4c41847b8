"""``python -m hwcloud_emulator``."""

import sys

from hwcloud_emulator.main import main

sys.exit(main())
