#!/usr/bin/python3
"""The lab's Internet origin: HTTP on TCP 80 and a UDP echo service on port 7.

Runs inside the inet namespace (started by scripts/lab.sh). Standard library only.
  GET /            small text page ("egressd lab origin")
  GET /bytes/N     N bytes of a repeating pattern (for MTU/MSS tests), N <= 64 MiB
  GET /stream/S    a slow download for the load (scripts/lib/lab_load.py): 8 KiB every
                   50 ms for S seconds (S <= 3600), so a stalled flow shows as a gap
  POST /           reads the body, answers with its length ("received N") (uploads: PMTU)
  UDP port 7       echoes every datagram back to its sender
  TCP port 8080    echoes every byte back (the load's "other TCP", not redirected to proxies)
"""
import argparse
import http.server
import socket
import socketserver
import threading
import time

PATTERN = bytes(range(256)) * 256  # 64 KiB chunk


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/":
            body = b"egressd lab origin\n"
            self._reply(200, len(body), [body])
        elif self.path.startswith("/bytes/") and self.path[7:].isdigit():
            size = int(self.path[7:])
            if size > 64 << 20:
                self._reply(400, 0, [])
                return
            chunks = [PATTERN] * (size // len(PATTERN)) + [PATTERN[: size % len(PATTERN)]]
            self._reply(200, size, chunks)
        elif self.path.startswith("/stream/") and self.path[8:].isdigit() and int(self.path[8:]) <= 3600:
            rounds = int(self.path[8:]) * 20
            chunk = PATTERN[:8192]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(rounds * len(chunk)))
            self.end_headers()
            for _ in range(rounds):
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self._reply(404, 0, [])

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        received = 0
        while received < length:
            chunk = self.rfile.read(min(65536, length - received))
            if not chunk:
                break
            received += len(chunk)
        body = b"received %d\n" % received
        self._reply(200, len(body), [body])

    def _reply(self, status, length, chunks):
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(chunk)

    def log_message(self, fmt, *args):
        print("http %s %s" % (self.client_address[0], fmt % args), flush=True)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def udp_echo(address, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(data, peer)


def tcp_echo(address, port):
    listener = socket.create_server((address, port), reuse_port=False, backlog=128)

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", default="198.51.100.80")
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--echo-port", type=int, default=7)
    parser.add_argument("--tcp-echo-port", type=int, default=8080)
    args = parser.parse_args()
    threading.Thread(target=udp_echo, args=(args.address, args.echo_port), daemon=True).start()
    threading.Thread(target=tcp_echo, args=(args.address, args.tcp_echo_port), daemon=True).start()
    server = Server((args.address, args.http_port), Handler)
    print("serving http on %s:%d, udp echo on port %d" % (args.address, args.http_port, args.echo_port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
