"""`maxrss.py RESULT.json -- CMD...`: run CMD; write its wall time and the peak resident set
size of the largest process in its tree (RUSAGE_CHILDREN: every waited-for descendant)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> int:
    out, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, __doc__
    t0 = time.perf_counter()
    rc = subprocess.run(cmd).returncode
    seconds = time.perf_counter() - t0
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    with open(out, "w") as fh:
        json.dump({"rc": rc, "seconds": seconds, "maxrss_kb": kb}, fh)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
