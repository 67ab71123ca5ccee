"""Run a module under cProfile timed by process CPU time, not wall time.

``python bench/cpu_profile.py OUT -m MODULE ARGS...`` profiles ``MODULE`` as
``python -m`` would and writes the stats to ``OUT`` when it exits. cProfile's
default clock is wall time, so an event loop waiting in epoll looks busy; timed
by ``time.process_time`` a profile shows only where the CPU goes (each call
costs a little more to measure, so absolute figures are inflated).

With ``GGZY_PROFILE_ON_SIGNAL=1`` in the environment the profile starts off:
SIGUSR1 turns it on and SIGUSR2 off again, so a harness profiles one phase only.
"""

from __future__ import annotations

import cProfile
import os
import runpy
import signal
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "-m":
        raise SystemExit(__doc__)
    out, module, rest = argv[0], argv[2], argv[3:]
    sys.argv = [module, *rest]
    sys.path[0] = os.getcwd()  # as ``python -m`` does
    profile = cProfile.Profile(time.process_time)
    code = 0
    try:
        if os.environ.get("GGZY_PROFILE_ON_SIGNAL") == "1":
            signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
            signal.signal(signal.SIGUSR2, lambda *_: profile.disable())
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            profile.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        profile.dump_stats(out)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
