"""A web process of its own, as many Heroku apps are: Python's http.server on HOST:PORT (the
collection sets HOST=127.0.0.1, since it puts Nginx in front; a release holding BIND_ALL listens
on 0.0.0.0, which the deploy refuses). /health answers {"status": "ok"} unless the release
holds FAIL_HEALTH (a broken release); /env shows what the process got. SIGTERM stops it after
the requests in flight."""
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSION = (HERE / "VERSION").read_text().strip()
BROKEN = (HERE / "FAIL_HEALTH").exists()
HOST = "0.0.0.0" if (HERE / "BIND_ALL").exists() else os.environ["HOST"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/health":
            status, body = (500, {"status": "broken", "version": VERSION}) if BROKEN \
                else (200, {"status": "ok", "version": VERSION})
        elif self.path == "/env":
            status, body = 200, {"version": VERSION, "release": HERE.name, "port": os.environ.get("PORT"),
                                 "host": os.environ.get("HOST"),
                                 "dyno": os.environ.get("DYNO"),
                                 "pythonunbuffered": os.environ.get("PYTHONUNBUFFERED"),
                                 "web_concurrency": os.environ.get("WEB_CONCURRENCY")}
        elif self.path == "/":
            status, body = 200, {"hello": "from a web process of its own", "version": VERSION}
        else:
            status, body = 404, {"error": "not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (http.server's name)
        print(f"{self.address_string()} {format % args}")


def main():
    server = ThreadingHTTPServer((HOST, int(os.environ["PORT"])), Handler)
    server.daemon_threads = False  # the requests in flight finish before the process exits

    def stop(_signum, _frame):
        print(f"web: SIGTERM, stopping after the requests in flight (release {HERE.name})")
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"web: listening on {HOST}:{os.environ['PORT']} in release {HERE.name}")
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
