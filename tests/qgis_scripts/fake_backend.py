#!/usr/bin/env python3
"""A stand-in for georaster-dl, for the runner's unit test only (progress, errors, cancel, env).

Usage: fake_backend.py --json-progress MODE OUT [PIDFILE]
  progress: two stages of JSON progress lines, an info line, a stderr warning, writes OUT
  fail:     writes OUT.partial.journal, a JSON line, then "error: ..." on stderr and exit code 2
  env:      writes the environment it received to OUT as JSON
  hang:     writes OUT.partial, starts a worker process, ignores SIGTERM and sleeps;
            PIDFILE gets "<own pid> <worker pid>"
"""
import json
import os
import signal
import subprocess
import sys
import time


def emit(stage, done, total, message, eta=None):
    print(json.dumps({"stage": stage, "done": done, "total": total, "message": message, "eta_s": eta}), flush=True)


def main(mode, out, pidfile=None):
    if mode == "progress":
        emit("info", 0, 0, "reading inputs")
        for i in range(5):
            emit("features", i, 4, "computing features", 4 - i)
        print("warning: 3 labels fall outside the grid", file=sys.stderr, flush=True)
        print("some library chatter", file=sys.stderr, flush=True)
        for i in range(3):
            emit("predict", i + 1, 3, f"window {i + 1} of 3")
        print("plain stdout line", flush=True)
        open(out, "w").write("done")
    elif mode == "fail":
        open(out + ".partial.journal", "w").write("{}")
        emit("stack", 0, 2, "opening inputs")
        print("error: input dem: /nope.tif does not exist; check the path", file=sys.stderr, flush=True)
        return 2
    elif mode == "env":
        open(out, "w").write(json.dumps(dict(os.environ)))
    elif mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stuck backend: only SIGKILL stops it
        open(out + ".partial", "w").write("half")
        worker = subprocess.Popen(["sleep", "60"])
        open(pidfile, "w").write(f"{os.getpid()} {worker.pid}")
        emit("predict", 1, 100, "window 1 of 100")
        time.sleep(60)
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--json-progress"]
    sys.exit(main(*args))
