"""The fault suite runs on a test bed of its own: the e2e suite runs an operator with -A on
the shared one for the whole session, and two operators must never watch the same objects.

Size: HWCLOUD_FAULTS_N objects (default 60, `make test`); `make faults` sets 1000.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.faults.fleet import FIGURES
from tests.support.testbed import Testbed, install_crds, start_testbed, stop_testbed


@pytest.fixture(scope="module")
def fault_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    state = tmp_path_factory.mktemp("faults-testbed")
    testbed = start_testbed(state)
    try:
        yield install_crds(testbed)
    finally:
        stop_testbed(state)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault suite figures")
    for key, value in FIGURES.items():
        terminalreporter.write_line(f"{key}: {value}")
