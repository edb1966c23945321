"""pyweb.deploy.source_archive: the same folder gives the same bytes; what is left out (tool
folders, and files that usually hold secrets) never reaches a release."""
import importlib.util
import io
import os
import tarfile
import gzip
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_source_archive", ROOT / "plugins" / "modules" / "source_archive.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)


def names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        return tar.getnames()


def tree(tmp_path, files):
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return str(tmp_path)


def test_same_folder_same_bytes_whatever_the_times(tmp_path):
    root = tree(tmp_path, {"app.py": "print(1)\n", "static/site.css": "p{}\n"})
    first = mod.pack(root, mod.DEFAULT_EXCLUDE, mod.DEFAULT_SECRETS)
    os.utime(tmp_path / "app.py", (1, 1))
    second = mod.pack(root, mod.DEFAULT_EXCLUDE, mod.DEFAULT_SECRETS)
    assert first == second
    assert first[1] == 2 and first[2] == []


def test_secret_looking_files_are_left_out_at_any_depth_and_listed(tmp_path):
    root = tree(tmp_path, {
        "app.py": "x\n", ".env": "SECRET_KEY=1\n", ".env.production": "A=1\n", ".env.example": "A=\n",
        "certs/site.pem": "pem\n", "certs/site.key": "key\n", "db.sqlite3": "db\n", "data/app.db": "db\n",
        "deploy/id_ed25519": "key\n", "README.md": "hi\n", "config.template": "x\n",
    })
    data, count, left_out = mod.pack(root, mod.DEFAULT_EXCLUDE, mod.DEFAULT_SECRETS)
    packed = names(data)
    assert left_out == [".env", ".env.production", "certs/site.key", "certs/site.pem", "data/app.db",
                        "db.sqlite3", "deploy/id_ed25519"]
    assert not set(left_out) & set(packed)
    assert {"app.py", ".env.example", "README.md", "config.template"} <= set(packed)
    assert count == 4


def test_an_empty_secret_list_keeps_everything(tmp_path):
    root = tree(tmp_path, {"app.py": "x\n", ".env": "A=1\n"})
    data, count, left_out = mod.pack(root, mod.DEFAULT_EXCLUDE, [])
    assert ".env" in names(data) and left_out == [] and count == 2


def test_tool_folders_are_left_out_silently(tmp_path):
    root = tree(tmp_path, {"app.py": "x\n", ".git/config": "x\n", "node_modules/a.js": "x\n", "pkg/__pycache__/a.pyc": "x"})
    data, count, left_out = mod.pack(root, mod.DEFAULT_EXCLUDE, mod.DEFAULT_SECRETS)
    assert sorted(names(data)) == ["app.py", "pkg"] and left_out == []


def test_a_link_is_packed_as_a_link_never_followed(tmp_path):
    root = tree(tmp_path, {"app.py": "x\n"})
    os.symlink("/etc", tmp_path / "staticfiles")
    data, count, _skipped = mod.pack(root, mod.DEFAULT_EXCLUDE, mod.DEFAULT_SECRETS)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        link = tar.getmember("staticfiles")
        assert link.issym() and link.linkname == "/etc"
        assert [m.name for m in tar.getmembers() if m.name.startswith("staticfiles/")] == []
