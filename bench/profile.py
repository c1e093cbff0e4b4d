"""Where the worker's time goes: py-spy attached to a worker run, summarised as hot frames."""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.process import Child, Children

SECONDS = 20  # long enough to sample the steady state of a drain
LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    """The py-spy executable (PATH, else next to this interpreter), or None."""
    here = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(here) if here.exists() else None)


def attacher(children: Children, out: Path, fmt: str) -> Callable[[Child], None] | None:
    """A hook that starts ``py-spy record`` on the worker once it consumes."""
    spy = py_spy()
    if spy is None:
        return None

    def attach(worker: Child) -> None:
        argv = [spy, "record", "--pid", str(worker.pid), "--format", fmt, "--rate", "200",
                "--duration", str(SECONDS), "-o", str(out)]  # fmt: skip
        children.spawn("py-spy", argv)

    return attach


def function(frame: str) -> str:
    """``name (file.py:12)`` -> ``name (file.py)``: lines of one function count together."""
    return LINE.sub(")", frame)


def hot_frames(folded: Path, top: int = 10) -> list[tuple[str, float, float]]:
    """(function, self share, total share) of the ``top`` functions by self time (raw stacks)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [function(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    return (
        [(f, n / samples, total[f] / samples) for f, n in own.most_common(top)] if samples else []
    )
