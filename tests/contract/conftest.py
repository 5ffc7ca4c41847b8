from tests.support.emulator import emulator, fresh_emulator  # noqa: F401
