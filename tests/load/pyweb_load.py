#!/usr/bin/env python3
"""pyweb_load: a small stdlib-only HTTP load generator for deploy tests.

Sends GET requests from THREADS loops, a new connection per request, until
STOP_FILE exists or MAX_SECONDS pass, then writes a JSON report to --out and
prints a one-line summary. Exit code 0 when it ran, 2 on bad arguments.

    python3 pyweb_load.py --url https://10.0.0.5/ --host hello.example.test \
        --insecure --threads 8 --max-seconds 300 --stop-file /tmp/load.stop \
        --out /tmp/load.json [--version-header X-App-Version |
                              --version-regex 'version (\\S+)']
"""

import argparse
import http.client
import json
import os
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse

BODY_LIMIT = 65536


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="pyweb_load",
        description="HTTP load generator: one connection per request, "
        "counts statuses, errors and served versions.",
    )
    p.add_argument("--url", required=True, help="http(s)://address[:port]/path")
    p.add_argument("--host", help="Host header and TLS SNI (default: the URL's host)")
    p.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--stop-file", help="stop when this file exists")
    p.add_argument("--out", help="write the JSON report here (atomically)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    p.add_argument("--delay", type=float, default=0.0,
                   help="seconds each thread waits between requests (0: none; keeps a shared "
                   "test machine usable)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--version-header", help="response header that names the version")
    g.add_argument("--version-regex", help="regex on the body; its first group is the version")
    args = p.parse_args(argv)
    url = urllib.parse.urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        p.error("--url must be http(s)://host[:port]/path")
    if args.threads < 1 or args.threads > 256:
        p.error("--threads must be 1..256")
    if args.max_seconds <= 0:
        p.error("--max-seconds must be > 0")
    if args.delay < 0:
        p.error("--delay must be >= 0")
    if args.version_regex:
        try:
            args.version_re = re.compile(args.version_regex)
        except re.error as e:
            p.error("--version-regex: %s" % e)
        if args.version_re.groups < 1:
            p.error("--version-regex needs a group")
    else:
        args.version_re = None
    args.parsed = url
    return args


class Worker(threading.Thread):
    def __init__(self, args, stop, t0):
        super().__init__(daemon=True)
        self.a = args
        self.stop = stop
        self.t0 = t0
        self.total = 0
        self.by_status = {}
        self.errors = {}
        self.failed = 0
        self.versions = {}
        self.first_seen = {}
        self.last_seen = {}
        self.sequence = []  # versions in the order this thread saw them
        self.latencies = []
        u = args.parsed
        self.https = u.scheme == "https"
        self.addr = u.hostname
        self.port = u.port or (443 if self.https else 80)
        self.path = (u.path or "/") + ("?" + u.query if u.query else "")
        self.host = args.host or u.hostname
        if self.https:
            ctx = ssl.create_default_context()
            if args.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self.ctx = ctx

    def one(self):
        if self.https:
            conn = http.client.HTTPSConnection(self.addr, self.port, timeout=self.a.timeout,
                                               context=self.ctx)

            def connect(c=conn):
                # Connect to the address, but send SNI = --host.
                sock = socket.create_connection((self.addr, self.port), self.a.timeout)
                c.sock = self.ctx.wrap_socket(sock, server_hostname=self.host)
            conn.connect = connect
        else:
            conn = http.client.HTTPConnection(self.addr, self.port, timeout=self.a.timeout)
        try:
            conn.putrequest("GET", self.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", self.host)
            conn.putheader("User-Agent", "pyweb-load/1")
            conn.putheader("Connection", "close")
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read(BODY_LIMIT)
            version = None
            if self.a.version_header:
                version = resp.getheader(self.a.version_header)
            elif self.a.version_re is not None:
                m = self.a.version_re.search(body.decode("utf-8", "replace"))
                version = m.group(1) if m else None
            return resp.status, version
        finally:
            conn.close()

    def run(self):
        while not self.stop.is_set():
            start = time.monotonic()
            status = version = None
            try:
                status, version = self.one()
            except socket.timeout:
                err = "timeout"
            except Exception as e:  # count every failure by its class
                err = type(e).__name__
            else:
                err = None
            now = time.monotonic()
            self.total += 1
            self.latencies.append((now - start) * 1000.0)
            if err:
                self.errors[err] = self.errors.get(err, 0) + 1
                self.failed += 1
                time.sleep(0.01)  # a refused connection returns at once: do not spin
                continue
            self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
            if not 200 <= status < 400:
                self.failed += 1
            if self.a.version_header or self.a.version_re is not None:
                v = version if version else "?"
                self.versions[v] = self.versions.get(v, 0) + 1
                rel = round(now - self.t0, 3)
                self.first_seen.setdefault(v, rel)
                self.last_seen[v] = rel
                if not self.sequence or self.sequence[-1] != v:
                    self.sequence.append(v)
            if self.a.delay:
                self.stop.wait(self.a.delay)


def percentile(sorted_vals, q):
    if not sorted_vals:
        return 0.0
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return round(sorted_vals[i], 1)


def merge(workers, duration):
    rep = {"total": 0, "by_status": {}, "errors": {}, "failed": 0, "versions": {},
           "first_seen": {}, "last_seen": {}, "version_changes": [], "flaps": 0}
    lat = []
    for w in workers:
        rep["total"] += w.total
        rep["failed"] += w.failed
        for src, dst in ((w.by_status, rep["by_status"]), (w.errors, rep["errors"]),
                         (w.versions, rep["versions"])):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
        for k, v in w.first_seen.items():
            rep["first_seen"][k] = min(v, rep["first_seen"].get(k, v))
        for k, v in w.last_seen.items():
            rep["last_seen"][k] = max(v, rep["last_seen"].get(k, v))
        # A thread flaps when it sees a version again after having left it.
        flapped = len(w.sequence) != len(set(w.sequence))
        rep["version_changes"].append({"sequence": w.sequence, "flapped": flapped})
        rep["flaps"] += int(flapped)
        lat.extend(w.latencies)
    lat.sort()
    rep["latency_ms"] = {"p50": percentile(lat, 0.50), "p99": percentile(lat, 0.99),
                         "max": round(lat[-1], 1) if lat else 0.0}
    rep["duration_s"] = round(duration, 2)
    rep["requests_per_s"] = round(rep["total"] / duration, 1) if duration > 0 else 0.0
    # versions ordered by first appearance
    rep["version_order"] = sorted(rep["first_seen"], key=lambda k: rep["first_seen"][k])
    return rep


def summary(rep):
    statuses = ", ".join("%s: %d" % (k, v) for k, v in sorted(rep["by_status"].items()))
    s = "load: %d requests in %.1fs (%d/s), failed %d, statuses {%s}" % (
        rep["total"], rep["duration_s"], rep["requests_per_s"], rep["failed"], statuses)
    if rep["errors"]:
        s += ", errors %s" % json.dumps(rep["errors"], sort_keys=True)
    if rep["versions"]:
        s += ", versions " + " -> ".join(
            "%s %d" % (v, rep["versions"][v]) for v in rep["version_order"])
        s += ", flaps %d" % rep["flaps"]
    s += ", latency p50 %.1fms p99 %.1fms max %.1fms" % (
        rep["latency_ms"]["p50"], rep["latency_ms"]["p99"], rep["latency_ms"]["max"])
    return s


def write_atomic(path, data):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".pyweb_load.", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stop = threading.Event()
    t0 = time.monotonic()
    workers = [Worker(args, stop, t0) for _thread in range(args.threads)]
    for w in workers:
        w.start()
    try:
        while True:
            elapsed = time.monotonic() - t0
            if elapsed >= args.max_seconds:
                break
            if args.stop_file and os.path.exists(args.stop_file):
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    stop.set()
    for w in workers:
        w.join(args.timeout + 5)
    duration = time.monotonic() - t0
    rep = merge(workers, duration)
    rep["url"] = args.url
    rep["host"] = args.host or args.parsed.hostname
    rep["threads"] = args.threads
    line = summary(rep)
    rep["summary"] = line
    if args.out:
        write_atomic(args.out, rep)
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
