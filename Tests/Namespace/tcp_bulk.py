#!/usr/bin/python3
"""Bulk TCP both ways with an integrity check (tun-offload test).

serve ADDR PORT: for each connection, read a 16-byte command ("up" or "dn", N in 14 digits).
  up N:   read N bytes, answer the SHA-256 of what arrived (hex, one line).
  down N: send N bytes of the pattern, then close.
client ADDR PORT up|down N: do one transfer, print "OK <bytes> <seconds>" when the
  digest of what arrived equals the pattern's, else "BAD ..." and exit 1.
The pattern is deterministic (SHA-256 counter stream) so both ends know it.
"""
import hashlib
import socket
import sys
import time


def pattern(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(i.to_bytes(8, "big")).digest() * 64
        i += 1
    return bytes(out[:n])


def recv_exact(s, n):
    h = hashlib.sha256()
    got = 0
    while got < n:
        b = s.recv(min(1 << 20, n - got))
        if not b:
            break
        h.update(b)
        got += len(b)
    return got, h.hexdigest()


def read_header(s):
    """The 16-byte command: b"up" or b"dn", then the size in 14 ASCII digits."""
    buf = b""
    while len(buf) < 16:
        b = s.recv(16 - len(buf))
        if not b:
            raise EOFError
        buf += b
    return buf[:2], int(buf[2:])


def serve(addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4)
    while True:
        c, _ = ls.accept()
        with c:
            try:
                cmd, n = read_header(c)
            except (EOFError, ValueError):
                continue
            if cmd == b"up":
                got, digest = recv_exact(c, n)
                c.sendall(("%d %s\n" % (got, digest)).encode())
            else:
                c.sendall(pattern(n))


def client(addr, port, direction, n):
    s = socket.create_connection((addr, port), timeout=60)
    start = time.monotonic()
    want = hashlib.sha256(pattern(n)).hexdigest()
    if direction == "up":
        s.sendall(b"up%014d" % n)
        s.sendall(pattern(n))
        line = s.makefile("rb").readline().decode().split()
        got, digest = int(line[0]), line[1]
    else:
        s.sendall(b"dn%014d" % n)
        got, digest = recv_exact(s, n)
    took = time.monotonic() - start
    if got == n and digest == want:
        print("OK %d %.3f" % (got, took))
        return 0
    print("BAD got %d of %d bytes, digest %s want %s" % (got, n, digest, want))
    return 1


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(client(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))
