"""``python -m hwcloud_access.emulator``."""

import sys

from hwcloud_access.emulator.main import main

sys.exit(main())
