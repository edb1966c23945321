#!/usr/bin/env python3
"""Talk to a WSGI server's unix socket the way Nginx does (HTTP for Gunicorn, the uwsgi protocol
for uWSGI), once or as a bounded load. Used by the wsgi scenarios inside the test container.

    wsgi_client.py get  --socket PATH --protocol http|uwsgi
    wsgi_client.py load --socket PATH --protocol http|uwsgi --threads 4 --seconds 120 --stop-file F --out FILE

`get` prints the status line and body; a connection error prints its type and exits 2.
`load` runs THREADS loops of requests until STOP_FILE exists (at most SECONDS) and writes JSON counts: statuses, errors, and
the first word of each body (the release that answered).
"""
import argparse
import collections
import json
import os
import socket
import struct
import sys
import threading
import time


def uwsgi_packet(path):
    env = {
        "REQUEST_METHOD": "GET", "REQUEST_URI": path, "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.0",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost",
    }
    body = b"".join(struct.pack("<H", len(k)) + k.encode() + struct.pack("<H", len(v)) + v.encode()
                    for k, v in env.items())
    return struct.pack("<BHB", 0, len(body), 0) + body


def request(sock_path, protocol, path="/", timeout=10.0):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(sock_path)
        if protocol == "uwsgi":
            sock.sendall(uwsgi_packet(path))
        else:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    head, _sep, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return status, status_line, body.decode(errors="replace")


def load(args):
    statuses, errors, bodies = collections.Counter(), collections.Counter(), collections.Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def loop():
        while time.monotonic() < deadline and not (args.stop_file and os.path.exists(args.stop_file)):
            try:
                status, _reason, body = request(args.socket, args.protocol)
                key = body.split(" ", 1)[0] if body else "<empty>"
                with lock:
                    statuses[str(status)] += 1
                    bodies[key] += 1
            except OSError as exc:
                with lock:
                    errors[type(exc).__name__ + ": " + str(exc)] += 1
            time.sleep(args.pause)

    threads = [threading.Thread(target=loop) for _thread in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = {"statuses": statuses, "errors": errors, "bodies": bodies,
              "total": sum(statuses.values()) + sum(errors.values())}
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["get", "load"])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--protocol", choices=["http", "uwsgi"], default="http")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pause", type=float, default=0.005)
    parser.add_argument("--stop-file")
    parser.add_argument("--out", default="/tmp/wsgi-load.json")
    parser.add_argument("--path", default="/")
    args = parser.parse_args()
    if args.mode == "load":
        load(args)
        return 0
    try:
        status, status_line, body = request(args.socket, args.protocol, args.path)
    except OSError as exc:
        print(f"{type(exc).__name__}: {exc}")
        return 2
    print(status_line)
    print(body, end="")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
