#!/usr/bin/env python3
"""A small HTTP server for the http-check tests (t0500-http-check.sh).

    server.py DIR

Binds 127.0.0.1 on a free port and writes, once it is listening:
  DIR/port         the port
  DIR/closed-port  a port that was free a moment ago and that nothing
                   listens on (for "connection refused")
and appends one line per request to DIR/requests:
  MONOTONIC_MS PATH
so a test can count requests and measure the time between them.

Paths:
  /status/NNN        status NNN, body "status NNN"
  /body/TEXT         status 200, body TEXT (URL-decoded)
  /flaky/NAME/N      the first N requests of NAME: 503 "starting"; then 200 "ready"
  /hang              reads the request and never answers
  /big               status 200, 1 MiB of "x" then "END"
  /binary            status 500, a body with control bytes and invalid UTF-8
  /echo              status 200, body "X-Token=VALUE" (the request's X-Token header)
Anything else is 404.

It runs until it is killed; requests are served on threads, so a hanging
request does not hold up the others.
"""
import http.server
import os
import socket
import sys
import threading
import time
import urllib.parse

from ports import publish

DIR = sys.argv[1]
counts = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def send(self, status, body):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(os.path.join(DIR, "requests"), "a") as f:
            f.write("%d %s\n" % (time.monotonic_ns() // 1000000, self.path))
        parts = self.path.split("/")
        try:
            if self.path.startswith("/status/"):
                code = int(parts[2])
                self.send(code, "status %d" % code)
            elif self.path.startswith("/body/"):
                self.send(200, urllib.parse.unquote(self.path[len("/body/"):]))
            elif self.path.startswith("/flaky/"):
                name, n = parts[2], int(parts[3])
                with lock:
                    counts[name] = counts.get(name, 0) + 1
                    seen = counts[name]
                if seen <= n:
                    self.send(503, "starting")
                else:
                    self.send(200, "ready")
            elif self.path == "/hang":
                while True:
                    time.sleep(3600)
            elif self.path == "/big":
                self.send(200, "x" * (1 << 20) + "END")
            elif self.path == "/binary":
                self.send(500, b'line 1\nline\t2 "q" \\ \x01\x7f\xff\xfe end')
            elif self.path == "/echo":
                self.send(200, "X-Token=%s" % self.headers.get("X-Token", ""))
            else:
                self.send(404, "not found")
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Many checks connect at once; the default backlog of 5 would drop
    # connections, which the client retries only a second later.
    request_queue_size = 128


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    # A port nothing listens on: bound, then closed again.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    publish(DIR, (("closed-port", closed), ("port", srv.server_address[1])))
    srv.serve_forever()


if __name__ == "__main__":
    main()
