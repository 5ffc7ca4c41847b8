from tests.support.operator import operator_stack  # noqa: F401
from tests.support.testbed import crds, namespace, testbed  # noqa: F401
