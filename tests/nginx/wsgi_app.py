def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from uwsgi, host " + environ["HTTP_HOST"].encode() + b"\n"]
