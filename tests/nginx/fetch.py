#!/usr/bin/env python3
"""Send HTTP(S) requests with curl, resolving each site's name to one address, and print JSON.

    fetch.py ADDRESS REQUESTS_JSON

REQUESTS_JSON is a list of {name, host, path="/", tls=false, port, args=[]}. The answer maps each
name to {rc, status, headers (lower-case names; the last of repeated ones), body, stderr}. curl's
exit code tells what happened when no answer came: 52 = the server closed the connection without
a response (nginx's 444), 35 = the TLS handshake failed (ssl_reject_handshake).
"""
import json
import subprocess
import sys

address, requests = sys.argv[1], json.loads(sys.argv[2])
answers = {}
for req in requests:
    tls = req.get("tls", False)
    port = req.get("port", 443 if tls else 80)
    url = f"{'https' if tls else 'http'}://{req['host']}:{port}{req.get('path', '/')}"
    cmd = ["curl", "--silent", "--show-error", "--max-time", "10", "--dump-header", "-",
           "--resolve", f"{req['host']}:{port}:{address}"]
    cmd += (["--insecure"] if tls else []) + req.get("args", []) + [url]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    head, _sep, body = out.partition("\r\n\r\n")
    lines = [line for line in head.split("\r\n") if line]
    status = int(lines[0].split()[1]) if lines else 0
    headers = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    answers[req["name"]] = {"rc": proc.returncode, "status": status, "headers": headers,
                            "body": body, "stderr": proc.stderr.decode("utf-8", "replace").strip()}
json.dump(answers, sys.stdout, indent=1)
