"""Host capabilities for the console tests: a gate a test opens, so a failed step can succeed when
the operator restarts it (workers in these tests run in the test's own process)."""
GATE = {"open": False}


def gate(call):
    if not GATE["open"]:
        raise RuntimeError("the gate is closed")
    return 1
