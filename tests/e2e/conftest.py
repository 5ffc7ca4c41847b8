import uuid
from collections.abc import Iterator

import pytest
from tests.support.operator import operator_stack  # noqa: F401
from tests.support.testbed import crds, namespace, testbed  # noqa: F401


@pytest.fixture
def stack(operator_stack, namespace):  # noqa: F811 - operator_stack is the fixture above
    """(testbed, emulator, operator, a fresh namespace), the emulator's faults cleared."""
    emulator = operator_stack[1]
    emulator.clear_faults()
    return (*operator_stack, namespace)


@pytest.fixture
def other_namespace(stack) -> Iterator[str]:
    """A second fresh namespace (another team's), deleted afterwards (without waiting)."""
    api = stack[0]
    name = f"t-{uuid.uuid4().hex[:10]}"
    api.kubectl("create", "namespace", name)
    yield name
    api.kubectl("delete", "namespace", name, "--wait=false", check=False)
