#!/usr/bin/env python3
"""pyweb.deploy benchmarks: deploy time and served speed against references, in one run.

    make bench                    every part (about 30 minutes on 2 idle cores; 26 without the settings)
    make bench QUICK=1            part 1 without the settings matrix, part 2 with short wrk runs
    make bench PARTS="1 2"        some parts: 1 deploy, 2 serve (+ 4 memory), 3 scale
    make bench ARGS="--no-settings --hosts '2 4'"   any option below
    make bench QUICK=1 PARTS=1 ARGS=--mitogen     the deploy part, plus the re-run with Mitogen

Every figure that is compared is measured in this run, back to back, on identical fresh
containers (the test image, run with the Molecule platform's options); the table reports ratios.
Results: bench/results/<date>.json (and latest.json); logs of every nested run beside them.
Containers are named bench-*; they are removed at the end (BENCH_KEEP=1 keeps them).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
IMAGE = os.environ.get("BENCH_IMAGE", "pyweb-test:debian12")
CACHE = os.environ.get("PYWEB_TEST_CACHE", "/var/cache/pyweb-test")
LOGS = RESULTS / "logs"
# Inventories and scratch playbooks: outside the checkout, where no linter walks.
TMP = Path(tempfile.gettempdir()) / f"pyweb-bench-{os.getpid()}"
STARTED = []  # containers this run started


def say(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(cmd, check=True, capture=True, **kw):
    res = subprocess.run(cmd, check=False, shell=isinstance(cmd, str), text=True,
                         stdout=subprocess.PIPE if capture else None,
                         stderr=subprocess.STDOUT if capture else None, **kw)
    if check and res.returncode != 0:
        raise RuntimeError(f"{cmd!r} failed ({res.returncode}):\n{(res.stdout or '')[-3000:]}")
    return res


def dexec(name, script, check=True):
    return sh(["docker", "exec", "-i", name, "bash", "-c", script], check=check)


# --- containers -------------------------------------------------------------------------------

def start(name):
    """A fresh systemd container with the options of .config/molecule/config.yml's platform."""
    sh(["docker", "rm", "-f", name], check=False)
    os.makedirs(f"{CACHE}/root-cache", exist_ok=True)
    sh(["docker", "run", "-d", "--name", name, "--hostname", name,
        "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
        "--security-opt", "apparmor=unconfined", "--cgroupns=host",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
        "-v", f"{CACHE}/root-cache:/root/.cache:rw",
        "--stop-signal", "SIGRTMIN+3", IMAGE, "/lib/systemd/systemd"])
    STARTED.append(name)
    for _attempt in range(60):
        state = sh(["docker", "exec", name, "systemctl", "is-system-running"], check=False).stdout.strip()
        if state in ("running", "degraded"):
            return name
        time.sleep(0.5)
    raise RuntimeError(f"{name}: systemd did not come up ({state})")


def address(name):
    return sh(["docker", "inspect", "-f",
               "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name]).stdout.strip()


def remove_all():
    if os.environ.get("BENCH_KEEP") == "1":
        say(f"kept containers: {' '.join(STARTED)}")
        return
    for name in STARTED:
        sh(["docker", "rm", "-f", name], check=False)


# --- apps and inventories ---------------------------------------------------------------------

APPS = ROOT / "tests" / "apps"


def app(kind, name, **extra):
    base = {"name": name, "domains": [f"{name}.bench.test"], "tls": {"mode": "none"}}
    if kind == "flask":
        base.update(type="flask", source={"path": str(APPS / "flask")}, wsgi_app="hello:create_app()",
                    static_dir="hello/static", health_check={"path": "/health"})
    elif kind == "django":
        base.update(type="django", source={"path": str(APPS / "django")}, wsgi_app="blog.wsgi:application",
                    env={"DJANGO_SETTINGS_MODULE": "blog.settings"}, health_check={"path": "/health/"})
    else:
        base.update(type="static", source={"path": str(APPS / "static")}, static_dir="public")
    base.update(extra)
    return base


FLASK1 = [app("flask", "hello")]
APPS3 = FLASK1 + [app("static", "docs"), app("django", "blog")]
APPS4 = APPS3 + [app("flask", "hellou", wsgi_server="uwsgi")]
APPS6 = APPS4 + [app("static", "docs2"), app("django", "blogu", wsgi_server="uwsgi")]


def inventory(hosts, apps, conn="community.docker.docker", interpreter="/usr/bin/python3"):
    d = Path(tempfile.mkdtemp(prefix="inv-", dir=TMP))
    hv = {"ansible_connection": conn}
    if interpreter:
        hv["ansible_python_interpreter"] = interpreter
    inv = {"webservers": {"hosts": {h: dict(hv) for h in hosts},
                          "vars": {"hardware_mode": "warn", "pyweb_apps": apps}}}
    (d / "hosts.yml").write_text(json.dumps(inv, indent=1))
    return d / "hosts.yml"


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
PROFILE = re.compile(r"^(.+?) -+ (\d+\.\d+)s$", re.M)


def playbook(inv, label, env=None, extra=(), playbook_path="playbooks/site.yml"):
    """Run a playbook; return seconds, the recap summed over hosts and the slowest tasks."""
    e = dict(os.environ)
    e.update({"ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"),
              "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
              "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "12", "ANSIBLE_FORCE_COLOR": "false",
              "ANSIBLE_PIPELINING": "true", "ANSIBLE_FORKS": "10",
              "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "false"})
    e["PATH"] = f"{ROOT / '.venv' / 'bin'}:{e['PATH']}"
    e.update(env or {})
    t0 = time.monotonic()
    res = sh(["ansible-playbook", "-i", str(inv), playbook_path, *extra], check=False, cwd=ROOT, env=e)
    secs = time.monotonic() - t0
    log = LOGS / f"{label}.log"
    log.write_text(res.stdout)
    hosts = RECAP.findall(res.stdout)
    if res.returncode != 0 or not hosts:
        raise RuntimeError(f"{label}: ansible-playbook failed ({res.returncode}), see {log}\n{res.stdout[-2500:]}")
    ok, changed, skipped = (sum(int(h[i]) for h in hosts) for i in (1, 2, 5))
    tail = res.stdout[res.stdout.rfind("=" * 20):] if "=" * 20 in res.stdout else ""
    slow = [(t.strip(), float(s)) for t, s in PROFILE.findall(tail)][:12]
    return {"by_role": role_costs(res.stdout), "seconds": round(secs, 1), "tasks": ok + skipped, "ok": ok, "changed": changed,
            "skipped": skipped, "hosts": len(hosts), "slowest": slow, "log": str(log.relative_to(ROOT))}


TASKLINE = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.+?)\] \*+$")
STAMP = re.compile(r"^\w+ \d+ \w+ \d{4}\s+[\d:]+ [+-]\d{4} \((\d+):(\d+):([\d.]+)\)")


def role_costs(text):
    """Seconds and task runs per role (or play-level task) from a profile_tasks log."""
    pending = None
    # Each stamp line gives the time since the previous stamp: the duration of the task before.
    costs, previous, seen_stamp = {}, None, False
    for line in text.splitlines():
        m = STAMP.match(line)
        if m:
            if previous and seen_stamp:
                secs = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
                c = costs.setdefault(previous, [0.0, 0])
                c[0] += secs
                c[1] += 1
            seen_stamp, previous = True, pending
            continue
        t = TASKLINE.match(line)
        if t:
            name = t.group(1)
            pending = name.split(" : ")[0] if " : " in name else "play: " + name
    return sorted(([k, round(v[0], 1), v[1]] for k, v in costs.items()), key=lambda x: -x[1])


# --- part 1: deploy time against a shell script ------------------------------------------------

SCRIPT = r"""
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends nginx python3-venv git ca-certificates acl >/dev/null
id hello >/dev/null 2>&1 || useradd --system --home-dir /srv/apps/hello --shell /usr/sbin/nologin hello
install -d -o root -g hello -m 0755 /srv/apps/hello
install -d -o hello -g hello -m 0750 /srv/apps/hello/shared
mkdir -p /srv/apps/hello/releases/1 && tar -C /srv/apps/hello/releases/1 -xf /tmp/app.tar
ln -sfn releases/1 /srv/apps/hello/current
python3 -m venv /srv/apps/hello/venv
/srv/apps/hello/venv/bin/pip install -q -r /srv/apps/hello/current/requirements.txt gunicorn
cat > /etc/systemd/system/hello.service <<'EOF'
[Unit]
After=network.target
[Service]
User=hello
Group=www-data
UMask=0007
WorkingDirectory=/srv/apps/hello/current
ExecStart=/srv/apps/hello/venv/bin/gunicorn --workers 5 --bind unix:/run/hello/hello.sock 'hello:create_app()'
ExecReload=/bin/kill -s HUP $MAINPID
RuntimeDirectory=hello
RuntimeDirectoryPreserve=yes
[Install]
WantedBy=multi-user.target
EOF
cat > /etc/nginx/sites-available/hello <<'EOF'
server {
    listen 80;
    server_name hello.bench.test;
    location /static/ { alias /srv/apps/hello/current/hello/static/; }
    location / {
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_pass http://unix:/run/hello/hello.sock;
    }
}
EOF
ln -sfn ../sites-available/hello /etc/nginx/sites-enabled/hello
rm -f /etc/nginx/sites-enabled/default
systemctl daemon-reload
systemctl enable --now hello.service
nginx -t -q && systemctl reload nginx
for i in $(seq 30); do
  curl -fsS -H 'Host: hello.bench.test' http://127.0.0.1/health >/dev/null 2>&1 && exit 0
  python3 -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1/health', headers={'Host': 'hello.bench.test'}), timeout=2)" \
    2>/dev/null && exit 0
  sleep 0.5
done
echo "the app did not answer"; exit 1
"""


def script_deploy(name):
    """The same work as a first deploy of the Flask example, by a plain shell script."""
    tar = TMP / "flask.tar"
    sh(["tar", "-C", str(APPS / "flask"), "-cf", str(tar), "."])
    t0 = time.monotonic()
    sh(["docker", "cp", str(tar), f"{name}:/tmp/app.tar"])
    res = sh(["docker", "exec", "-i", name, "bash", "-c", SCRIPT], check=False)
    secs = time.monotonic() - t0
    (LOGS / "script-first.log").write_text(res.stdout)
    if res.returncode != 0:
        raise RuntimeError(f"the reference script failed:\n{res.stdout[-2000:]}")
    t0 = time.monotonic()
    res = sh(["docker", "exec", "-i", name, "bash", "-c", SCRIPT], check=False)
    return round(secs, 1), round(time.monotonic() - t0, 1)


MICRO = """---
- name: Fifteen module calls, the cost of a task's round trip
  hosts: all
  gather_facts: false
  tasks:
    - name: Stat a file
      ansible.builtin.stat:
        path: /etc/hostname
      loop: "{{ range(10) | list }}"
    - name: Run a command
      ansible.builtin.command: "true"
      changed_when: false
      loop: "{{ range(5) | list }}"
"""

FACTS = """---
- name: Fact gathering, three times
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather
      ansible.builtin.setup:
        gather_subset: "{{ subset }}"
      loop: "{{ range(3) | list }}"
"""

# label, playbook, connection, interpreter, environment, extra args
SETTINGS = [
    ("docker, pipelining (Molecule's)", MICRO, "community.docker.docker", "/usr/bin/python3", {}, ()),
    ("docker, no pipelining", MICRO, "community.docker.docker", "/usr/bin/python3",
     {"ANSIBLE_PIPELINING": "false"}, ()),
    ("docker_api, pipelining", MICRO, "community.docker.docker_api", "/usr/bin/python3", {}, ()),
    ("docker_api, no pipelining", MICRO, "community.docker.docker_api", "/usr/bin/python3",
     {"ANSIBLE_PIPELINING": "false"}, ()),
    ("docker, pipelining, interpreter discovery (auto_silent)", MICRO, "community.docker.docker", None,
     {"ANSIBLE_PYTHON_INTERPRETER": "auto_silent"}, ()),
    ("facts: all (x3)", FACTS, "community.docker.docker", "/usr/bin/python3", {}, ("-e", "subset=all")),
    ("facts: min (x3)", FACTS, "community.docker.docker", "/usr/bin/python3", {}, ("-e", "subset=min")),
    ("facts: min,hardware,network (x3)", FACTS, "community.docker.docker", "/usr/bin/python3", {},
     ("-e", "subset=min,hardware,network")),
]


def part_settings(out, host):
    """Connection and run settings, on small playbooks (round trips) against one deployed host."""
    say("part 1b: connection and run settings (small playbooks, best of 2)")
    rows = []
    for i, (label, text, conn, interp, env, extra) in enumerate(SETTINGS):
        pb = TMP / f"settings-{i}.yml"
        pb.write_text(text)
        inv = inventory([host], [], conn=conn, interpreter=interp)
        runs = [playbook(inv, f"settings-{i}-{k}", env=env, extra=extra, playbook_path=str(pb))["seconds"]
                for k in range(2)]
        rows.append({"setting": label, "seconds": min(runs), "runs": runs})
        say(f"  {label}: {runs}")
    out["settings"] = rows


MITOGEN = os.environ.get("BENCH_MITOGEN_VERSION", "0.3.54")


def mitogen_env():
    """Mitogen from PyPI into .cache (never the pinned .venv): the environment that turns it on."""
    target = ROOT / ".cache" / f"mitogen-{MITOGEN}"
    if not (target / "ansible_mitogen").is_dir():
        say(f"  installing mitogen {MITOGEN} into {target.relative_to(ROOT)}")
        sh([str(ROOT / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--target", str(target),
            f"mitogen=={MITOGEN}"])
    return {"ANSIBLE_STRATEGY_PLUGINS": str(target / "ansible_mitogen" / "plugins" / "strategy"),
            "ANSIBLE_STRATEGY": "mitogen_linear", "PYTHONPATH": str(target)}


def part_mitogen(out, host):
    """The no-change re-run with Mitogen's strategy and its own docker connection, between two
    plain re-runs on the same host (an option for users: ansible-core 2.19 deprecates
    third-party strategy plugins)."""
    say(f"part 1d: the no-change re-run with mitogen {MITOGEN} (strategy mitogen_linear, its docker connection)")
    before = playbook(inventory([host], FLASK1), "deploy-rerun-plain-1")
    try:
        with_mitogen = playbook(inventory([host], FLASK1, conn="docker"), "deploy-rerun-mitogen", env=mitogen_env())
    except RuntimeError as e:
        say(f"  mitogen failed: {str(e).splitlines()[0]}")
        out["deploy"]["mitogen"] = {"version": MITOGEN, "error": str(e)[-1500:]}
        return
    after = playbook(inventory([host], FLASK1), "deploy-rerun-plain-2")
    plain = min(before["seconds"], after["seconds"])
    out["deploy"]["mitogen"] = {"version": MITOGEN, "plain": [before["seconds"], after["seconds"]],
                                "mitogen": with_mitogen["seconds"], "tasks": with_mitogen["tasks"],
                                "changed": with_mitogen["changed"],
                                "ratio": round(with_mitogen["seconds"] / plain, 2)}
    say(f"  plain {before['seconds']}s / {after['seconds']}s, mitogen {with_mitogen['seconds']}s "
        f"({with_mitogen['changed']} changed)")


def part_deploy(out, opts):
    say("part 1: first deploy of the Flask example (ours and the script, each on a fresh container)")
    a, b = start("bench-deploy"), start("bench-script")
    script_first, script_rerun = script_deploy(b)
    say(f"  script: first {script_first}s, re-run {script_rerun}s")
    inv = inventory([a], FLASK1)
    first = playbook(inv, "deploy-first")
    say(f"  ours: first {first['seconds']}s ({first['tasks']} tasks, {first['changed']} changed)")
    rerun = playbook(inv, "deploy-rerun")
    say(f"  ours: re-run {rerun['seconds']}s ({rerun['tasks']} tasks, {rerun['changed']} changed)")
    out["deploy"] = {"first": first, "rerun": rerun,
                     "script": {"first": script_first, "rerun": script_rerun},
                     "ratio_first": round(first["seconds"] / script_first, 2)}
    sh(["docker", "rm", "-f", b], check=False)
    if opts.mitogen:
        part_mitogen(out, a)
    if not opts.settings:
        return
    part_settings(out, a)
    say("part 1c: the no-change re-run with the connection docker_api")
    tuned = playbook(inventory([a], FLASK1, conn="community.docker.docker_api"), "deploy-rerun-docker-api")
    out["deploy"]["rerun_docker_api"] = tuned
    say(f"  re-run with docker_api: {tuned['seconds']}s")


# --- part 2 and 4: served speed and memory ----------------------------------------------------

# The references compress as the collection's Nginx does (roles/nginx/defaults: nginx_gzip*), and
# wrk asks with Accept-Encoding: gzip, so that "ours/minimal" compares like with like.
REF_NGINX = r"""
worker_processes auto;
pid /run/bench-ref.pid;
events {}
http {
    include /etc/nginx/mime.types;
    gzip on;
    gzip_vary on;
    gzip_proxied any;
    gzip_comp_level 5;
    gzip_min_length 256;
    gzip_types text/plain text/css text/xml text/javascript application/javascript application/json
               application/xml application/rss+xml application/atom+xml application/manifest+json image/svg+xml;
    gzip_static on;
    server {
        listen 8081;
        root /srv/apps/docs/current/public;
    }
    server {
        listen 8082;
        location / { proxy_pass http://127.0.0.1:8000; proxy_set_header Host $host; }
    }
}
"""


def wrk(url, host, secs, conns=32):
    res = sh(["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "--latency", "-H", f"Host: {host}",
              "-H", "Accept-Encoding: gzip", url], check=False)
    txt = res.stdout
    # The distribution's lines only ("   99%   4.18ms"): "99%" also ends figures such as "89.99%".

    def num(pattern):
        m = re.search(pattern, txt)
        return m.group(1) if m else None

    def ms(v):
        if v is None:
            return None
        m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
        if not m:  # "-nan" and the like when nothing was answered
            return None
        return round(float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)], 2)
    if not re.search(r"Requests/sec:", txt) or not re.search(r"(?m)^\s*99%\s+[\d.]+", txt):
        say(f"  wrk {url} (Host {host}) gave no figures: {(txt + res.stderr).strip()[-400:]}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", txt)
    return {"rps": float(num(r"Requests/sec:\s+([\d.]+)") or 0), "p50_ms": ms(num(r"(?m)^\s*50%\s+(\S+)")),
            "p99_ms": ms(num(r"(?m)^\s*99%\s+(\S+)")), "non2xx": int(errors.group(1)) if errors else 0,
            "errors": bool(re.search(r"Socket errors", txt))}


def rss_mb(name, user):
    out = dexec(name, f"ps -u {user} -o rss= 2>/dev/null || true").stdout.split()
    return round(sum(int(x) for x in out) / 1024, 1)


def part_serve(out, opts, name=None):
    secs = opts.wrk_seconds
    apps = APPS6 if opts.serve_apps == 6 else APPS4
    n = len(apps)
    if name is None:
        say(f"part 2: {n} apps on one fresh host (its deploy is also the scale point '{n} apps')")
        name = start("bench-serve")
        inv = inventory([name], apps)
        f, r = playbook(inv, f"scale-apps-{n}-first"), playbook(inv, f"scale-apps-{n}-rerun")
        out.setdefault("scale", []).append({"what": "apps", "n": n, "first": f["seconds"], "rerun": r["seconds"],
                                            "tasks_rerun": r["tasks"], "slowest_rerun": r["slowest"]})
        say(f"  {n} apps: first {f['seconds']}s, re-run {r['seconds']}s ({r['tasks']} tasks)")
    ip = address(name)
    # Idle memory before the hand-started Gunicorn (it runs as hello too) exists.
    idle = {u: rss_mb(name, u) for u in ("hello", "hellou", "blog", "blogu") if u in [x["name"] for x in apps]}
    say("  references: minimal Nginx on :8081/:8082, Gunicorn by hand (its defaults) on :8000")
    dexec(name, f"cat > /etc/bench-ref.conf <<'EOF'\n{REF_NGINX}\nEOF\nnginx -t -q -c /etc/bench-ref.conf && nginx -c /etc/bench-ref.conf")
    dexec(name, "cd /srv/apps/hello/current && setsid nohup runuser -u hello -- "
                "$(ls -d /srv/apps/hello/venvs/*/bin | head -1)/gunicorn "
                "-b 127.0.0.1:8000 'hello:create_app()' >/tmp/gunicorn-ref.log 2>&1 < /dev/null & sleep 2")
    targets = [
        ("static file, our Nginx site", f"http://{ip}/assets/site.3f2a9c1e.css", "docs.bench.test", "static"),
        ("static file, minimal Nginx", f"http://{ip}:8081/assets/site.3f2a9c1e.css", "docs.bench.test", "static"),
        ("Flask, our Gunicorn via Nginx", f"http://{ip}/", "hello.bench.test", "flask"),
        ("Flask, our uWSGI via Nginx", f"http://{ip}/", "hellou.bench.test", "flask"),
        ("Flask, Gunicorn defaults via minimal Nginx", f"http://{ip}:8082/", "hello.bench.test", "flask"),
        ("Django, our Gunicorn via Nginx", f"http://{ip}/health/", "blog.bench.test", "django"),
    ] + ([("Django, our uWSGI via Nginx", f"http://{ip}/health/", "blogu.bench.test", "django")]
         if n == 6 else [])
    users = {"hello.bench.test": "hello", "hellou.bench.test": "hellou", "blog.bench.test": "blog",
             "blogu.bench.test": "blogu"}
    rows = []
    for label, url, host, kind in targets:
        wrk(url, host, 1)  # warm up (workers spawned, caches filled)
        loaded = None
        if host in users and ":808" not in url:
            # sample memory in the middle of the measured run
            box = {}
            t = threading.Timer(secs / 2, lambda: box.setdefault("rss", rss_mb(name, users[host])))
            t.start()
            r = wrk(url, host, secs)
            t.join()
            loaded = box.get("rss")
        else:
            r = wrk(url, host, secs)
        r.update(target=label, kind=kind, rss_loaded_mb=loaded)
        rows.append(r)
        say(f"  {label}: {r['rps']:.0f} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
    by = {r["target"]: r for r in rows}

    def ratio(a, b):
        return round(by[a]["rps"] / by[b]["rps"], 2) if by[b]["rps"] else None
    out["serve"] = {"wrk": f"-t2 -c32 -d{secs}s -H 'Accept-Encoding: gzip' from the host", "rows": rows, "ratios": {
        "static ours/minimal": ratio("static file, our Nginx site", "static file, minimal Nginx"),
        "flask gunicorn ours/defaults": ratio("Flask, our Gunicorn via Nginx", "Flask, Gunicorn defaults via minimal Nginx"),
        "flask uwsgi ours/gunicorn defaults": ratio("Flask, our uWSGI via Nginx", "Flask, Gunicorn defaults via minimal Nginx"),
    }}
    procs = dexec(name, f"for u in {' '.join(idle)}; do echo $u $(pgrep -u $u 2>/dev/null | wc -l); done").stdout.split("\n")
    out["memory"] = {"idle_mb": idle, "loaded_mb": {users[r_host]: by[l]["rss_loaded_mb"]
                                                    for l, _addr, r_host, _user in targets if r_host in users and l in by and by[l]["rss_loaded_mb"]},
                     "processes": dict(p.split() for p in procs if p.strip())}
    dexec(name, "nginx -c /etc/bench-ref.conf -s stop; pkill -u hello -f 127.0.0.1:8000 || true", check=False)
    return name


# --- part 3: scale ----------------------------------------------------------------------------

def part_scale(out, opts):
    say("part 3: scale with hosts (the Flask app on 2 and 4 hosts) and apps (3 on one host)")
    rows = out.setdefault("scale", [])
    d = out.get("deploy")
    if d:
        rows.append({"what": "hosts", "n": 1, "first": d["first"]["seconds"], "rerun": d["rerun"]["seconds"]})
        rows.append({"what": "apps", "n": 1, "first": d["first"]["seconds"], "rerun": d["rerun"]["seconds"]})
    for n in opts.hosts:
        names = [start(f"bench-scale-h{i}") for i in range(n)]
        inv = inventory(names, FLASK1)
        f, r = playbook(inv, f"scale-hosts-{n}-first"), playbook(inv, f"scale-hosts-{n}-rerun")
        rows.append({"what": "hosts", "n": n, "first": f["seconds"], "rerun": r["seconds"]})
        say(f"  {n} hosts: first {f['seconds']}s, re-run {r['seconds']}s")
        for x in names:
            sh(["docker", "rm", "-f", x], check=False)
    if not opts.apps3:
        rows.sort(key=lambda r: (r["what"], r["n"]))
        return
    name = start("bench-scale-a3")
    inv = inventory([name], APPS3)
    f, r = playbook(inv, "scale-apps-3-first"), playbook(inv, "scale-apps-3-rerun")
    rows.append({"what": "apps", "n": 3, "first": f["seconds"], "rerun": r["seconds"], "tasks_rerun": r["tasks"]})
    say(f"  3 apps: first {f['seconds']}s, re-run {r['seconds']}s ({r['tasks']} tasks)")
    sh(["docker", "rm", "-f", name], check=False)
    rows.sort(key=lambda r: (r["what"], r["n"]))


# --- report -----------------------------------------------------------------------------------

def table(out):
    lines = []
    d = out.get("deploy")
    if d:
        f, r, s = d["first"], d["rerun"], d["script"]
        lines += ["Deploy of the Flask example (one host)", "",
                  "| | ours | tasks (changed) | shell script | ours/script |", "|---|---:|---:|---:|---:|",
                  f"| first deploy | {f['seconds']} s | {f['tasks']} ({f['changed']}) | {s['first']} s | {d['ratio_first']} |",
                  f"| no-change re-run | {r['seconds']} s | {r['tasks']} ({r['changed']}) | {s['rerun']} s | "
                  f"{round(r['seconds'] / s['rerun'], 2) if s['rerun'] else '-'} |", ""]
        lines += ["Slowest tasks of the no-change re-run (profile_tasks)", ""]
        lines += [f"- {t}: {secs} s" for t, secs in r["slowest"][:8]] + [""]
        lines += ["Where the no-change re-run goes (seconds, tasks run incl. skipped, per role)", "",
                  "| role or play task | seconds | tasks |", "|---|---:|---:|"]
        if "by_role" not in r and (ROOT / r["log"]).exists():
            r["by_role"] = role_costs((ROOT / r["log"]).read_text())
        lines += [f"| {k} | {v} | {n} |" for k, v, n in r.get("by_role", [])[:10]] + [""]
    if d and d.get("mitogen"):
        mi = d["mitogen"]
        lines += [f"No-change re-run with mitogen {mi['version']}: " + (
            f"{mi['mitogen']} s vs {min(mi['plain'])} s plain (runs {mi['plain']}), ratio {mi['ratio']}, "
            f"{mi['changed']} changed" if "error" not in mi else "failed (see the JSON)"), ""]
    if d and d.get("rerun_docker_api"):
        lines += [f"No-change re-run with the connection community.docker.docker_api: "
                  f"{d['rerun_docker_api']['seconds']} s (vs {d['rerun']['seconds']} s)", ""]
    if out.get("settings"):
        lines += ["Settings on small playbooks against the deployed host (best of 2)", "",
                  "| setting | seconds | vs first row |", "|---|---:|---:|"]
        base = out["settings"][0]["seconds"]
        for m in out["settings"]:
            if m["setting"].startswith("facts: all"):
                base = m["seconds"]
            lines.append(f"| {m['setting']} | {m['seconds']} | {round(m['seconds'] / base, 2)} |")
        lines.append("")
    s = out.get("serve")
    if s:
        lines += [f"Served through Nginx (wrk {s['wrk']})", "",
                  "| target | req/s | p50 ms | p99 ms | RSS under load MiB |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {r['target']} | {r['rps']:.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['rss_loaded_mb'] or ''} |"
                  for r in s["rows"]] + [""]
        lines += [f"- {k}: **{v}**" for k, v in s["ratios"].items()] + [""]
    m = out.get("memory")
    if m:
        lines += ["Memory (RSS of each app's processes, MiB): " + ", ".join(
            f"{u} idle {m['idle_mb'][u]} / load {m['loaded_mb'].get(u, '-')} ({m['processes'].get(u, '?')} processes)"
            for u in m["idle_mb"]), ""]
    if out.get("scale"):
        lines += ["Scale (seconds)", "", "| | n | first deploy | no-change re-run |", "|---|---:|---:|---:|"]
        lines += [f"| {r['what']} | {r['n']} | {r['first']} | {r['rerun']} |" for r in out["scale"]] + [""]
    return "\n".join(lines)


def machine():
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    return {"nproc": os.cpu_count(), "mem_gib": round(int(mem) / 1048576, 1), "kernel": platform.release(),
            "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
            "ansible": sh([str(ROOT / ".venv" / "bin" / "ansible"), "--version"]).stdout.splitlines()[0],
            "image": IMAGE}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    ap.add_argument("--show", metavar="JSON", help="print the table of a saved run and stop")
    ap.add_argument("--parts", default="1 2 3", help="any of 1 (deploy), 2 (serve + memory), 3 (scale)")
    ap.add_argument("--hosts", default=None, help="host counts for part 3 (default '2 4', quick '2')")
    ap.add_argument("--serve-apps", type=int, choices=(4, 6), default=None, help="apps on the part 2 host")
    ap.add_argument("--wrk-seconds", type=int, default=None, help="length of each wrk run (8, quick 4)")
    ap.add_argument("--no-settings", dest="settings", action="store_false", default=None,
                    help="skip the settings matrix (skipped with --quick)")
    ap.add_argument("--mitogen", action="store_true", default=None,
                    help="also time the no-change re-run with Mitogen (installed into .cache; on without --quick)")
    ap.add_argument("--no-mitogen", dest="mitogen", action="store_false")
    ap.add_argument("--no-apps3", dest="apps3", action="store_false", default=None,
                    help="skip the 3-apps scale point (skipped with --quick)")
    args = ap.parse_args()
    if args.show:
        print(table(json.loads(Path(args.show).read_text())))
        return
    q = args.quick
    args.hosts = [int(x) for x in (args.hosts if args.hosts is not None else ("2" if q else "2 4")).split()]
    args.serve_apps = args.serve_apps or (4 if q else 6)
    args.wrk_seconds = args.wrk_seconds or (4 if q else 8)
    args.settings = (not q) if args.settings is None else args.settings
    args.apps3 = (not q) if args.apps3 is None else args.apps3
    args.mitogen = (not q) if args.mitogen is None else args.mitogen
    parts = set(args.parts.replace(",", " ").split())
    if not shutil.which("wrk") and "2" in parts:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            say("installing wrk (apt-get install -y wrk)")
            sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk || "
               "{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }")
        else:
            sys.exit("bench: part 2 needs wrk: apt-get install wrk (or PARTS='1 3')")
    for d in (RESULTS, LOGS, TMP):
        d.mkdir(parents=True, exist_ok=True)
    sh([str(ROOT / "tools" / "ensure-docker.sh")])
    sh([str(ROOT / "tools" / "ensure-apt-cache.sh")])
    sh([str(ROOT / "tools" / "build-images.sh"), IMAGE.split(":")[1]])
    now = datetime.datetime.now(datetime.timezone.utc)
    out = {"date": now.isoformat(timespec="seconds"), "quick": args.quick, "parts": sorted(parts),
           "machine": machine(), "load_before": open("/proc/loadavg").read().split()[:3]}
    t0 = time.monotonic()
    path = RESULTS / f"bench-{now.strftime('%Y%m%dT%H%M%SZ')}.json"

    def save():
        out["load_after"] = open("/proc/loadavg").read().split()[:3]
        out["bench_seconds"] = round(time.monotonic() - t0)
        path.write_text(json.dumps(out, indent=1))
        shutil.copy(path, RESULTS / "latest.json")

    try:
        # Most wanted first; the JSON is written after each part.
        if "1" in parts:
            part_deploy(out, args)
            save()
        if "2" in parts:
            sh(["docker", "rm", "-f", "bench-deploy"], check=False)
            part_serve(out, args)
            save()
        if "3" in parts:
            sh(["docker", "rm", "-f", "bench-serve"], check=False)
            part_scale(out, args)
    finally:
        save()
        remove_all()
        shutil.rmtree(TMP, ignore_errors=True)
    print()
    print(table(out))
    print(f"machine: {out['machine']['nproc']} cores, {out['machine']['mem_gib']} GiB, load {out['load_before']} -> "
          f"{out['load_after']}; {out['bench_seconds']} s; JSON: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
