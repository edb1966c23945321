"""Build the venv scenario's two hostile packages with nothing but the standard library.

pywebpth (a wheel) ships a .pth file: it runs whenever the venv's python starts. pywebsdist (an
sdist) has a setup.py: it runs when the package is built. Each appends the uid it ran as to a file
in /tmp; verify.yml asserts that root (uid 0) never ran either.

    python3 build.py DIST_FOLDER
"""
import base64
import hashlib
import io
import sys
import tarfile
import zipfile
from pathlib import Path

PTH = ("import os; exec(\"try:\\n with open('/tmp/pyweb-attack-pth.uids', 'a') as f: "
       "f.write(str(os.getuid()) + '\\\\n')\\nexcept OSError: pass\")\n")
SETUP = """import os
try:
    with open('/tmp/pyweb-attack-sdist.uids', 'a') as f:
        f.write(str(os.getuid()) + '\\n')
except OSError:
    pass
from setuptools import setup
setup(name='pywebsdist', version='1.0', py_modules=[])
"""


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
