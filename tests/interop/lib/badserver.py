#!/usr/bin/env python3
"""Misbehaving HTTP servers for registry client tests (loopback only). Usage: MODE PORTFILE
  stall     accepts connections, reads the request, never answers
  redirect  answers every request with a 302 to the same URL (a redirect loop)
  bigmanifest  /v2/ is 200, every manifest is 5 MiB of JSON"""
import socket, sys, threading, time

mode, portfile = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
open(portfile, "w").write(str(srv.getsockname()[1]))


def handle(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            return
        data += chunk
    path = data.split(b" ")[1].decode()
    if mode == "stall":
        time.sleep(3600)
    elif mode == "redirect":
        c.sendall(("HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % path).encode())
    elif mode == "bigmanifest":
        if path == "/v2/":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        else:
            body = b'{"schemaVersion":2,"pad":"' + b"x" * (5 << 20) + b'"}'
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
    c.close()


while True:
    conn, _ = srv.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
