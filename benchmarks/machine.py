"""Facts about the machine a benchmark ran on, recorded in every results file.

Timings on a shared 2-core machine depend on what else runs: the load average at the start
of each benchmark is recorded so that a slow figure can be told from a busy machine.
"""

from __future__ import annotations

import os
import platform
import sys
import time


def machine_facts() -> dict:
    """CPU count (usable and total), load average now, platform and library versions."""
    import numpy as np

    facts = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpus_total": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }  # fmt: skip
    for module in ("torch", "scipy"):
        try:
            facts[module] = __import__(module).__version__
        except ImportError:
            facts[module] = None
    try:
        import zsaudio

        facts["zsaudio"] = zsaudio.__version__
    except (ImportError, AttributeError):
        facts["zsaudio"] = None
    facts["git_commit"] = _git_commit()
    return facts


def _git_commit() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=os.path.dirname(__file__), timeout=5)  # fmt: skip
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
