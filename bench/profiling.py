"""Optional sampling profiles of the services during the benchmark's open-loop phase.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``,
each frame ``function (file:line)``); ``summarize`` turns them into where the
CPU goes: share of samples by the package of the innermost frame (self time),
the hottest innermost functions, and the inclusive share of each of the
project's own files (a sample counts once per file on its stack). Samples whose
innermost frame is a wait (select, a condition, an idle pool thread) are
counted apart and left out of the shares.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")
_PROJECT = ("ggzy/", "services/", "contracts/", "bench/", "projection.py")
# Innermost frames of a thread that waits (py-spy --nonblocking cannot always tell
# an idle thread from a busy one): counted apart as "waiting", not as CPU.
_WAITING = {("EpollSelector.select", "selectors.py"), ("Condition.wait", "threading.py"),
            ("_worker", "concurrent/futures/thread.py"), ("Queue.get", "queue.py")}


@dataclass
class Recording:
    """One running ``py-spy record`` attached to a process."""

    service: str
    output: Path
    proc: subprocess.Popen[bytes]

    def wait(self, timeout: float = 60.0) -> Path:
        """Wait for py-spy to write its output; the output path."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(10)
        return self.output


def record(py_spy: str, service: str, pid: int, seconds: float, output: Path) -> Recording:
    """Sample ``pid`` at 100 Hz for ``seconds`` without pausing it (``--nonblocking``)."""
    argv = [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
            "--rate", "100", "--nonblocking", "--format", "raw", "--output", str(output)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return Recording(service, output, proc)


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        found = _FRAME.match(raw.strip())
        frames.append((found["func"], found["file"]) if found else (raw.strip(), "?"))
    return frames


def _package(path: str) -> str:
    """py-spy names files relative to sys.path: ``pymongo/pool.py``, ``uuid.py``."""
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    head = path.lstrip("<").split("/", 1)[0]
    return head.removesuffix(".py")


def summarize(path: Path, top: int = 12) -> dict[str, object]:
    """Self time by package, hottest functions, inclusive share of project files (%)."""
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = waiting = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        func, file = frames[-1]
        if (func, file) in _WAITING:
            waiting += count
            continue
        total += count
        by_package[_package(file)] += count
        by_function[f"{func} ({file})"] += count
        for own in {f for _, f in frames if f.startswith(_PROJECT)}:
            inclusive[own] += count

    def share(counter: Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / max(total, 1), 1) for k, v in counter.most_common(top)}

    return {"samples": total, "waiting_samples": waiting,
            "self_by_package_pct": share(by_package),
            "self_by_function_pct": share(by_function), "inclusive_by_file_pct": share(inclusive)}
