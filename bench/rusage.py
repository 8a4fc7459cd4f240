#!/usr/bin/env python3
"""Runs a command and writes its resource use as JSON: wall seconds, user and system CPU
seconds, peak resident set (ru_maxrss, the child's VmHWM) and exit status.
Usage: rusage.py OUT.json -- CMD ARGS..."""
import json
import os
import sys
import time

out, sep, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
assert sep == "--" and cmd, __doc__
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
rc = os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    json.dump({"wall_s": wall, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
               "maxrss_kib": ru.ru_maxrss, "rc": rc}, f)
sys.exit(rc if rc >= 0 else 128 - rc)
