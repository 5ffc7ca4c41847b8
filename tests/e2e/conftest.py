import pytest
from tests.support.operator import operator_stack  # noqa: F401
from tests.support.testbed import crds, namespace, testbed  # noqa: F401


@pytest.fixture
def stack(operator_stack, namespace):  # noqa: F811 - operator_stack is the fixture above
    """(testbed, emulator, operator, a fresh namespace), the emulator's faults cleared."""
    emulator = operator_stack[1]
    emulator.clear_faults()
    return (*operator_stack, namespace)
