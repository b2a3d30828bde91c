#!/usr/bin/env python3
"""Servers that answer badly, for the http-check tests (t0530-http-hostile.sh).

    hostile.py DIR

Binds 127.0.0.1 on free ports and writes, once it is listening:
  DIR/port       the port of the server below
  DIR/full-port  a port whose listen queue is full and never drained: the
                 kernel drops every new connection attempt, so a connect
                 there never completes
and appends one line per request to DIR/requests:
  MONOTONIC_MS PATH

Paths (answers are written by hand, byte for byte):
  /ok              status 200, body "ok"
  /huge-header     status 200 with one 10 MiB header line
  /long-header     status 200 with one 80 KiB header line
  /many-headers    status 200 with 10,000 header lines of 50 bytes
  /slow-headers    status 200, then a header line every 20 ms, forever
  /stall           reads the request and never sends a byte
  /delay/MS        status 200, body "ok", MS milliseconds after the request
Anything else is 404.

Each connection has its own thread; it runs until it is killed.
"""
import os
import socket
import sys
import threading
import time

from ports import publish

DIR = sys.argv[1]


def log(path):
    with open(os.path.join(DIR, "requests"), "a") as f:
        f.write("%d %s\n" % (time.monotonic_ns() // 1000000, path))


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return parts[1] if len(parts) > 1 else "/"


def hold(conn):
    """Keeps the connection open, sending nothing, until the client goes."""
    while conn.recv(4096):
        pass


def serve(conn):
    with conn:
        try:
            path = read_request(conn)
            if path is None:
                return
            log(path)
            head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
            if path == "/ok":
                conn.sendall(head + b"Content-Length: 2\r\n\r\nok")
            elif path == "/huge-header":
                conn.sendall(head + b"X-Huge: ")
                chunk = b"a" * 65536
                for _ in range(160):
                    conn.sendall(chunk)
                conn.sendall(b"\r\nContent-Length: 2\r\n\r\nok")
            elif path == "/long-header":
                conn.sendall(head + b"X-Long: " + b"b" * (80 * 1024) +
                             b"\r\nContent-Length: 2\r\n\r\nok")
            elif path == "/many-headers":
                lines = b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"c" * 32) for i in range(10000))
                conn.sendall(head + lines + b"Content-Length: 2\r\n\r\nok")
            elif path == "/slow-headers":
                conn.sendall(head)
                i = 0
                while True:
                    conn.sendall(b"X-Slow-%d: d\r\n" % i)
                    i += 1
                    time.sleep(0.02)
            elif path == "/stall":
                hold(conn)
            elif path.startswith("/delay/"):
                time.sleep(int(path[len("/delay/"):]) / 1000)
                conn.sendall(head + b"Content-Length: 2\r\n\r\nok")
            else:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
        except OSError:
            pass


def full_listener():
    """A listener whose queue of one is taken by connections nobody accepts."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(lst.getsockname())
        except BlockingIOError:
            pass
        fillers.append(s)
    return lst, fillers


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    full, fillers = full_listener()
    publish(DIR, (("full-port", full.getsockname()[1]), ("port", srv.getsockname()[1])))
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
