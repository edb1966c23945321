#!/usr/bin/env python3
"""A receiver for the alert tests: records every webhook POST and every e-mail, one JSON line each.

  receiver.py FILE [HTTP_PORT [SMTP_PORT]]   (defaults 9099 and 2525, on 127.0.0.1)

HTTP: any POST is answered 200 and recorded as {"via": "webhook", "path", "headers", "body"}
(body parsed as JSON when it is). SMTP: just enough of RFC 5321 for smtplib (EHLO/HELO, MAIL,
RCPT, DATA, RSET, NOOP, QUIT); each message is recorded as {"via": "email", "from", "to",
"subject", "data"}. The tests read FILE (molecule/alerts/verify.yml).
"""
import email
import http.server
import json
import socketserver
import sys
import threading

LOCK = threading.Lock()


def record(path, entry):
    with LOCK, open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        record(self.server.out, {"via": "webhook", "path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class Mail(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 pyweb test receiver")
        sender, rcpts = None, []
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 hello")
            elif verb == "MAIL":
                sender, rcpts = line.split(":", 1)[1].strip(), []
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].strip())
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                for data in self.rfile:
                    text = data.decode("utf-8", "replace").rstrip("\r\n")
                    if text == ".":
                        break
                    lines.append(text[1:] if text.startswith("..") else text)
                message = email.message_from_string("\n".join(lines))
                record(self.server.out, {"via": "email", "from": sender, "to": rcpts,
                                         "subject": message["Subject"], "data": "\n".join(lines)})
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    out = sys.argv[1]
    http_port = int(sys.argv[2]) if len(sys.argv) > 2 else 9099
    smtp_port = int(sys.argv[3]) if len(sys.argv) > 3 else 2525
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), Hook)
    hook.out = out
    mail = Server(("127.0.0.1", smtp_port), Mail)
    mail.out = out
    threading.Thread(target=mail.serve_forever, daemon=True).start()
    hook.serve_forever()


if __name__ == "__main__":
    main()
