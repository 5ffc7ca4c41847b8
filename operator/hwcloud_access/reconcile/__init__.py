"""The reconcile engine (observe, diff, act, wait for effect, conditions) and adapters."""
