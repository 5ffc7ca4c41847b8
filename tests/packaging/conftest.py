from tests.support.emulator import emulator  # noqa: F401
