"""What the benchmarks share: the machine they ran on, percentiles, Markdown tables, and
recording a run's figures in ``bench/README.md``."""

import math
import os
import platform
import time
from argparse import ArgumentParser
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    try:
        return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        return "unknown"


def packages(*names: str) -> str:
    """The installed versions, like ``Flask 3.1.0, SQLAlchemy 2.0.36``."""
    return ", ".join(f"{name} {version(name)}" for name in names)


def python_speed() -> str:
    """How fast this machine runs Python now: the best of five runs of a fixed loop. Machines
    of the same kind, and one machine from hour to hour, differ by up to half (other tenants),
    and every figure of a run moves with this one, so it is recorded beside them."""
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for n in range(1_000_000):
            total += n % 7
        best = min(best, time.perf_counter() - start)
    return f"fixed Python loop {best * 1000:.0f} ms (lower is faster)"


def describe(load: str | None, *details: str) -> str:
    """The platform, CPU and cores (with ``load``, a note on the load average, in brackets),
    Python and its speed now, then the ``details`` (database servers, package versions ...),
    ``;`` between them."""
    cores = f"{cpu_model()}, {os.cpu_count()} cores" + (f" ({load})" if load else "")
    python = f"Python {platform.python_version()} ({python_speed()})"
    return "; ".join([platform.platform(), cores, python, *details])


def markdown_table(header: list[str], align: str, rows: list[list]) -> str:
    """A Markdown table; ``align`` has an ``l`` (left) or ``r`` (right, for figures) per
    column."""
    lines = [header, ["---:" if a == "r" else "---" for a in align], *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def add_record_option(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--no-record", dest="record", action="store_false", help="do not append to README.md"
    )


def record(title: str, text: str) -> None:
    """Append ``text`` to the README's recorded results, under a dated heading ``title``
    follows (like ``: load``)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with README.open("a", encoding="utf-8") as readme:
        readme.write(f"\n### {stamp}{title}\n\n{text}\n")
    print(f"\nrecorded in {README}")
