#!/usr/bin/python3
"""The lab's Internet origin: HTTP on TCP 80 and a UDP echo service on port 7.

Runs inside the inet namespace (started by scripts/lab.sh). Standard library only.
  GET /            small text page ("egressd lab origin")
  GET /bytes/N     N bytes of a repeating pattern (for MTU/MSS tests), N <= 64 MiB
  POST /           reads the body, answers with its length ("received N") (uploads: PMTU)
  UDP port 7       echoes every datagram back to its sender
"""
import argparse
import http.server
import socket
import socketserver
import threading

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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", default="198.51.100.80")
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--echo-port", type=int, default=7)
    args = parser.parse_args()
    threading.Thread(target=udp_echo, args=(args.address, args.echo_port), daemon=True).start()
    server = Server((args.address, args.http_port), Handler)
    print("serving http on %s:%d, udp echo on port %d" % (args.address, args.http_port, args.echo_port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
