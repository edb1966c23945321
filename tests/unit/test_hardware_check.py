"""pyweb.deploy.hardware_check: the verdict on measured figures, and the readers of /proc and /sys."""
import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_hardware_check", ROOT / "plugins" / "modules" / "hardware_check.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)

PARAMS = {"min_cpu_cores": 2, "min_memory_mb": 4096, "memory_reserved_mb": 256, "min_disk_gb": 20.0,
          "disk_path": "/srv/apps", "min_link_mbps": 1000, "interface": "", "mode": "enforce",
          "fail_on_unknown": False, "host": "web1", "profile": "app"}
FIGURES = {"cpu": 4, "memory_mb": 7900, "disk_gb": 55.3, "disk_mount": "/", "disk_error": "",
           "interface": "eth0", "link_mbps": 10000}


def test_a_host_above_every_minimum_passes():
    report = mod.evaluate(FIGURES, PARAMS)
    assert report["failing"] == [] and report["unknown"] == [] and report["message"] == ""
    assert [c["found"] for c in report["checks"]] == [4, 7900, 55.3, 10000]
    assert report["checks"][2]["what"] == "free disk for /srv/apps (on /)"


def test_memory_accepts_what_the_kernel_keeps():
    assert mod.evaluate({**FIGURES, "memory_mb": 3850}, PARAMS)["failing"] == []
    failing = mod.evaluate({**FIGURES, "memory_mb": 3800}, PARAMS)["failing"]
    assert failing == ["memory: found 3800 MiB, need at least 4096 MiB (variable hardware_min_memory_mb)"]


def test_every_shortfall_in_one_message():
    report = mod.evaluate({**FIGURES, "cpu": 1, "disk_gb": 3.5, "link_mbps": 100}, PARAMS)
    assert report["failing"] == [
        "CPU cores: found 1, need at least 2 (variable hardware_min_cpu_cores)",
        "free disk for /srv/apps (on /): found 3.5 GiB, need at least 20 GiB (variable hardware_min_disk_gb)",
        "network link eth0: found 100 Mbit/s, need at least 1000 Mbit/s (variable hardware_min_link_mbps)",
    ]
    assert report["message"].startswith("Host web1 does not meet the hardware minimums (profile app):\n- CPU")
    assert report["message"].endswith("set hardware_mode: warn to go on anyway.")


def test_an_unreadable_figure_is_unknown_and_fails_only_when_asked():
    figures = {**FIGURES, "interface": "lo", "link_mbps": None}
    report = mod.evaluate(figures, PARAMS)
    assert report["failing"] == [] and len(report["unknown"]) == 1
    assert report["unknown"][0].startswith("network link lo: cannot be read (the interface reports no speed")
    assert mod.evaluate(figures, {**PARAMS, "fail_on_unknown": True})["failing"] == report["unknown"]


def test_a_minimum_of_zero_turns_a_check_off():
    report = mod.evaluate({**FIGURES, "link_mbps": None, "cpu": 1}, {**PARAMS, "min_link_mbps": 0, "min_cpu_cores": 0})
    assert report["failing"] == [] and report["unknown"] == []


def test_readers(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        8041216 kB\nMemFree: 1 kB\n")
    assert mod.read_memory_mb(str(meminfo)) == 7852
    route = tmp_path / "route"
    route.write_text("Iface\tDestination\tGateway\nbr0\t0000FEA9\t00000000\neth1\t00000000\t0100A8C0\n")
    assert mod.default_interface(str(route)) == "eth1"
    (tmp_path / "net" / "eth1").mkdir(parents=True)
    (tmp_path / "net" / "eth1" / "speed").write_text("1000\n")
    (tmp_path / "net" / "veth9").mkdir(parents=True)
    (tmp_path / "net" / "veth9" / "speed").write_text("-1\n")
    assert mod.read_link_mbps("eth1", str(tmp_path / "net")) == 1000
    assert mod.read_link_mbps("veth9", str(tmp_path / "net")) is None
    assert mod.read_link_mbps("missing", str(tmp_path / "net")) is None


def test_disk_of_a_folder_that_does_not_exist_yet(tmp_path):
    free, mount, error = mod.read_disk(str(tmp_path / "not" / "yet"))
    stats = os.statvfs(tmp_path)
    assert error == "" and free == round(stats.f_bavail * stats.f_frsize / mod.GIB, 1)
    assert os.path.ismount(mount) and str(tmp_path).startswith(mount)
