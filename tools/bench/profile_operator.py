"""The operator (`hwcloud-access run ARGS`) in this process, under cProfile and/or
tracemalloc: the benchmark's diagnosis (`make bench BENCH_PROFILE=cpu|mem|both`).

    python tools/bench/profile_operator.py run -n NS ...     (same arguments as the operator)

BENCH_PROFILE selects what runs (cpu: cProfile of the event-loop thread; mem: tracemalloc
with BENCH_TRACEMALLOC_FRAMES frames, default 6; both). Reports go to BENCH_PROFILE_DIR
(default .bench/profile):

- on SIGUSR1 (the benchmark sends it once all objects are Ready) and at exit:
  ``cpu-<n>.txt`` (top functions by own time and by cumulative time),
  ``mem-<n>.txt`` (traced memory, top allocation sites by line and by traceback), and
  ``objects-<n>.txt`` (live objects by type, from the garbage collector; always).

Profiling slows the operator down (cProfile by ~1.5-2x): figures of a profiled run are
not the benchmark's figures.
"""

from __future__ import annotations

import cProfile
import gc
import io
import os
import pstats
import signal
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

MODE = os.environ.get("BENCH_PROFILE", "cpu")
OUT = Path(os.environ.get("BENCH_PROFILE_DIR", ".bench/profile"))
PROFILER = cProfile.Profile() if MODE in ("cpu", "both") else None
_dumps = 0


def dump(label: str) -> None:
    global _dumps
    _dumps += 1
    OUT.mkdir(parents=True, exist_ok=True)
    tag = f"{_dumps}-{label}"
    if PROFILER is not None:
        PROFILER.disable()
        text = io.StringIO()
        stats = pstats.Stats(PROFILER, stream=text)
        stats.sort_stats("tottime").print_stats(60)
        stats.sort_stats("cumulative").print_stats(80)
        (OUT / f"cpu-{tag}.txt").write_text(text.getvalue())
        PROFILER.enable()
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot().filter_traces([
            tracemalloc.Filter(False, tracemalloc.__file__)])
        current, peak = tracemalloc.get_traced_memory()
        lines = [f"traced now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB", ""]
        for stat in snapshot.statistics("lineno")[:50]:
            lines.append(f"{stat.size / 2**20:8.2f} MiB {stat.count:9d} {stat.traceback[0]}")
        lines.append("")
        for stat in snapshot.statistics("traceback")[:15]:
            lines.append(f"{stat.size / 2**20:8.2f} MiB in {stat.count} blocks")
            lines.extend("    " + line for line in stat.traceback.format())
        (OUT / f"mem-{tag}.txt").write_text("\n".join(lines))
    counts = Counter(type(obj).__qualname__ for obj in gc.get_objects())
    (OUT / f"objects-{tag}.txt").write_text("\n".join(
        f"{n:9d} {name}" for name, n in counts.most_common(60)))


def main() -> int:
    if MODE in ("mem", "both"):
        # The kubernetes client's API classes first: building them under tracemalloc (their
        # thousands of pydantic Fields) takes minutes, and it is start-up, not growth.
        from kubernetes.client import CoreV1Api, CustomObjectsApi  # noqa: F401

        tracemalloc.start(int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "6")))
    signal.signal(signal.SIGUSR1, lambda *_: dump("usr1"))
    from hwcloud_access.cli import main as operator_main

    if PROFILER is not None:
        PROFILER.enable()
    try:
        return operator_main(sys.argv[1:])
    finally:
        dump("exit")


if __name__ == "__main__":
    sys.exit(main())
