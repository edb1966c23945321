"""The release process: runs in the new release before it serves. A release holding the file
FAIL_RELEASE fails, as a broken migration would."""
import os
import sys
from pathlib import Path

here = Path.cwd()
if (here / "FAIL_RELEASE").exists():
    print("release: the migration failed (FAIL_RELEASE is in this release)", file=sys.stderr)
    sys.exit(3)
with open(here.parent.parent / "shared" / "release.log", "a", encoding="utf-8") as log:
    log.write(f"{here.name} {os.environ.get('DYNO')} {(here / 'VERSION').read_text().strip()}\n")
print(f"release: ran in {here.name}")
