#!/usr/bin/python3
"""Send one UDP datagram per flow (one socket per source port) to an echo service and wait
for the echoes, resending unanswered flows a few times. Prints JSON:
{"answered": [ports...], "unanswered": [ports...]}.
Usage: udp_flows.py DST PORT --flows N --base-port P [--wait SECONDS] [--tries N]
"""
import argparse
import json
import select
import socket
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dst")
    parser.add_argument("port", type=int)
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--base-port", type=int, default=20000)
    parser.add_argument("--wait", type=float, default=1.5, help="seconds to wait per try")
    parser.add_argument("--tries", type=int, default=3)
    args = parser.parse_args()

    sockets = {}
    for i in range(args.flows):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", args.base_port + i))
        sock.setblocking(False)
        sockets[sock.fileno()] = (args.base_port + i, sock)

    answered = set()
    for _ in range(args.tries):
        pending = [(port, sock) for port, sock in sockets.values() if port not in answered]
        if not pending:
            break
        for port, sock in pending:
            try:
                sock.sendto(b"flow %d" % port, (args.dst, args.port))
            except OSError:
                pass  # e.g. ICMP error queued from an earlier try; resent next try
            time.sleep(0.001)  # pace the burst: the TUN queues are short
        deadline = time.monotonic() + args.wait
        while len(answered) < len(sockets) and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(list(sockets), [], [], left)
            for fd in ready:
                port, sock = sockets[fd]
                try:
                    data = sock.recv(2048)
                except OSError:
                    continue
                if data == b"flow %d" % port:
                    answered.add(port)
    ports = sorted(port for port, _ in sockets.values())
    print(json.dumps({"answered": sorted(answered),
                      "unanswered": [p for p in ports if p not in answered]}))


if __name__ == "__main__":
    main()
