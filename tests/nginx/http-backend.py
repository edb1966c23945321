#!/usr/bin/python3
"""Stand-in for Gunicorn in the nginx scenario: HTTP/1.1 on a unix socket (mode 0660).

Answers every GET and POST with JSON naming itself and echoing the headers Nginx sets.
"""
import json
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keepalive, as Gunicorn's gthread workers

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({
            "backend": "proxy",
            "path": self.path,
            "host": self.headers.get("Host"),
            "x_forwarded_proto": self.headers.get("X-Forwarded-Proto"),
            "x_forwarded_for": self.headers.get("X-Forwarded-For"),
            "x_forwarded_host": self.headers.get("X-Forwarded-Host"),
            "x_real_ip": self.headers.get("X-Real-IP"),
            "connection": self.headers.get("Connection"),
            "received": length,
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, fmt, *args):
        sys.stderr.write(fmt % args + "\n")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


path = sys.argv[1]
if os.path.exists(path):
    os.unlink(path)
os.umask(0o007)
Server(path, Handler).serve_forever()
