"""A scheduled job: `python job.py ok` appends a line to shared/job.log, `python job.py fail`
fails (a failed run shows in systemctl --failed)."""
import os
import sys
import time
from pathlib import Path

if sys.argv[1:] == ["fail"]:
    print("job: failing on purpose", file=sys.stderr)
    sys.exit(2)
here = Path.cwd()
with open(here.parent.parent / "shared" / "job.log", "a", encoding="utf-8") as log:
    log.write(f"{int(time.time())} {os.environ.get('DYNO')} {here.name}\n")
print("job: done")
