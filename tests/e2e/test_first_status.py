"""A new object gets a status at once even when its first pass waits for the cloud, so that
tools reading it (kstatus reads an object without status as Current) see it in progress."""

from __future__ import annotations

import time

from tests.e2e.test_operator import user
from tests.support.operator import wait_for, wait_ready

LATENCY = 8.0  # seconds the emulator takes for every answer


def test_a_new_object_is_in_progress_while_its_first_pass_waits(stack) -> None:
    testbed, emulator, _, ns = stack
    emulator.set_faults(latency=LATENCY)
    try:
        started = time.monotonic()
        testbed.apply(user("slow", f"slow-{ns}"), ns)
        first = wait_for(lambda: (testbed.get("VpnUser", "slow", ns) or {}).get("status"),
                         LATENCY - 2, interval=0.1, what="a first status")
        assert time.monotonic() - started < LATENCY - 2
        conditions = {c["type"]: c for c in first.get("conditions") or []}
        assert (conditions["Ready"]["reason"], conditions["Reconciling"]["status"]) == \
            ("Creating", "True"), first
    finally:
        emulator.clear_faults()
    wait_ready(testbed, "VpnUser", "slow", ns)

