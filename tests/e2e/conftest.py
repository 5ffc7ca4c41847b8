from tests.support.testbed import crds, namespace, testbed  # noqa: F401
