"""A sampling profile of the running operator (`make bench BENCH_PROFILE=spy`).

py-spy samples the operator process from outside (50 Hz, every thread, without pausing it),
from the first create to convergence, so the run's timings stay close to an unprofiled
one's, unlike cProfile (BENCH_PROFILE=cpu), which slows every Python call down. The raw
stacks (`spy-<run>.raw`, one "frame;frame;... count" line per stack, flamegraph input) and
a summary (`spy-<run>.txt`: the functions with the most samples of their own, and with the
most samples in anything they called) go to .bench/profile/.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE = 50  # samples per second


class SamplingProfile:
    def __init__(self, pid: int, out: Path, label: str) -> None:
        self.raw = out / f"spy-{label}.raw"
        self.summary = out / f"spy-{label}.txt"
        out.mkdir(parents=True, exist_ok=True)
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.process = subprocess.Popen(
            [py_spy, "record", "-p", str(pid), "-r", str(RATE), "-f", "raw", "--nonblocking",
             "-o", str(self.raw)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> Path:
        """Stops sampling, writes the summary; its path."""
        self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate(timeout=60)
        if not self.raw.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace')}")
        self.summary.write_text(summarize(self.raw.read_text()))
        return self.summary


def summarize(raw: str, top: int = 40) -> str:
    """The functions by samples of their own (the stack's last frame) and by samples in
    them or anything they called (each stack counted once per function)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    if not total:
        return "no samples\n"
    lines = [f"{total} samples at {RATE} Hz ({total / RATE:.1f} s of running threads)", "",
             "own samples:"]
    lines += [f"{n:7d} {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "samples in the function or what it called:"]
    lines += [f"{n:7d} {100 * n / total:5.1f}%  {frame}"
              for frame, n in inclusive.most_common(2 * top)]
    return "\n".join(lines) + "\n"
