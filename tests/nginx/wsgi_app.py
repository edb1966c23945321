import json


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/headers":
        # What the app is told about the client (forged X-Forwarded-* must not reach it).
        body = json.dumps({key: environ.get(key) for key in (
            "HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
            "HTTP_X_REAL_IP")}).encode() + b"\n"
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from uwsgi, host " + environ["HTTP_HOST"].encode() + b"\n"]
