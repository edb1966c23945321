"""Build the venv scenario's two hostile packages with nothing but the standard library.

pywebpth (a wheel) ships a .pth file: it runs whenever the venv's python starts. pywebsdist (an
sdist) has a setup.py: it runs when the package is built. Each sends a line to the journal, which
records the uid it ran as; verify.yml asserts that root (uid 0) never ran either.

    python3 build.py DIST_FOLDER
"""
import base64
import hashlib
import io
import sys
import tarfile
import zipfile
from pathlib import Path

# Each one sends a line to journald's syslog socket: journald records the sender's uid (_UID) from
# the kernel's credentials, whatever the code claims, and the socket is reachable from a
# sandboxed build too (which has a private /tmp, where a marker file would vanish).
JOURNAL = "/run/systemd/journal/dev-log"
_SEND = ("try:\n"
         " s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
         " s.sendto(('<13>{tag}: ran as uid ' + str(os.getuid())).encode(), " + repr(JOURNAL) + ")\n"
         "except OSError:\n"
         " pass\n")
# A .pth line runs only if it starts with "import": one line that execs the sender.
PTH = "import os, socket; exec(" + repr(_SEND.format(tag="pyweb-attack-pth")) + ")\n"
SETUP = ("import os, socket\n" + _SEND.format(tag="pyweb-attack-sdist")
         + "from setuptools import setup\nsetup(name='pywebsdist', version='1.0', py_modules=[])\n")


def wheel(dist: Path) -> None:
    files = {
        "pywebpth.pth": PTH,
        "pywebpth-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: pywebpth\nVersion: 1.0\n",
        "pywebpth-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: pyweb-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("pywebpth-1.0.dist-info/RECORD,,")
    files["pywebpth-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(dist / "pywebpth-1.0-py3-none-any.whl", "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)


def sdist(dist: Path) -> None:
    files = {
        "pywebsdist-1.0/setup.py": SETUP,
        "pywebsdist-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: pywebsdist\nVersion: 1.0\n",
    }
    with tarfile.open(dist / "pywebsdist-1.0.tar.gz", "w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    wheel(out)
    sdist(out)
