#!/usr/bin/env python3
"""Runs a command and writes its resource use as JSON: wall seconds, user and system CPU
seconds, peak resident set (ru_maxrss, the child's VmHWM) and exit status.
SIGTERM and SIGINT sent to this process are passed on to the command, so a daemon stopped
through this wrapper (lab_stop on its pid) exits by itself and its figures are still written.
Usage: rusage.py OUT.json -- CMD ARGS..."""
import json
import os
import signal
import sys
import time

out, sep, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
assert sep == "--" and cmd, __doc__
pid = 0


def forward(signum, _frame):
    if pid > 0:  # never 0: in the child before exec, kill(0) would signal the whole group
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


# Installed before the fork so that no signal is missed; exec resets them in the child.
signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
# wait4 is resumed after a forwarded signal (PEP 475), so it returns only when the child ends.
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
rc = os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    json.dump({"wall_s": wall, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
               "maxrss_kib": ru.ru_maxrss, "rc": rc}, f)
sys.exit(rc if rc >= 0 else 128 - rc)
