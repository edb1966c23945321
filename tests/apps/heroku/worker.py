"""The worker process: every second it writes shared/worker-<DYNO>.json (its release, version
and pid), the evidence molecule/heroku reads; on SIGTERM it says so and exits 0."""
import json
import os
import signal
import sys
import time
from pathlib import Path

HERE = Path.cwd()
SHARED = HERE.parent.parent / "shared"
DYNO = os.environ.get("DYNO", "worker.?")
VERSION = (HERE / "VERSION").read_text().strip()
running = True


def stop(_signum, _frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
print(f"{DYNO}: started in release {HERE.name} (version {VERSION})", flush=True)
while running:
    state = {"dyno": DYNO, "release": HERE.name, "version": VERSION, "pid": os.getpid(),
             "unbuffered": os.environ.get("PYTHONUNBUFFERED")}
    tmp = SHARED / f".worker-{DYNO}.tmp"
    tmp.write_text(json.dumps(state) + "\n")
    tmp.rename(SHARED / f"worker-{DYNO}.json")
    time.sleep(1)
print(f"{DYNO}: SIGTERM, stopping gracefully", flush=True)
sys.exit(0)
