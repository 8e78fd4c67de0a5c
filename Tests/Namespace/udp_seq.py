#!/usr/bin/python3
"""A steady UDP stream with sequence numbers, echoed back, for tests that must show that
nothing was lost (drain-*.test.sh).

  udp_seq.py echo PORT                      echo every datagram back to its sender
  udp_seq.py send DST PORT --rate N --seconds S [--source A] [--grace G]
      sends N datagrams per second for S seconds (one flow), waits G seconds for the
      last echoes, then prints JSON: {"sent", "received", "lost", "lost_seqs" (first 20),
      "max_gap_ms" (longest time without an echo while sending), "start", "end"}
      (times as time.time()).
"""
import argparse
import json
import select
import socket
import struct
import sys
import time


def echo(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        data, peer = sock.recvfrom(2048)
        try:
            sock.sendto(data, peer)
        except OSError:
            pass


def send(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.source, 0))
    sock.setblocking(False)
    total = int(args.rate * args.seconds)
    interval = 1.0 / args.rate
    got = set()
    last_echo = None
    max_gap = 0.0
    start = time.time()
    t0 = time.monotonic()

    def drain_socket():
        nonlocal last_echo, max_gap
        while True:
            try:
                data = sock.recv(2048)
            except (BlockingIOError, OSError):
                return
            if len(data) >= 4:
                now = time.monotonic()
                if last_echo is not None:
                    max_gap = max(max_gap, now - last_echo)
                last_echo = now
                got.add(struct.unpack("!I", data[:4])[0])

    for seq in range(total):
        due = t0 + seq * interval
        while (left := due - time.monotonic()) > 0:
            select.select([sock], [], [], left)
            drain_socket()
        try:
            sock.sendto(struct.pack("!I", seq) + b"x" * 60, (args.dst, args.port))
        except OSError:
            pass  # no route (counted as lost)
        drain_socket()
    end = time.time()
    deadline = time.monotonic() + args.grace
    while len(got) < total and (left := deadline - time.monotonic()) > 0:
        select.select([sock], [], [], left)
        drain_socket()
    lost = sorted(set(range(total)) - got)
    json.dump({"sent": total, "received": len(got), "lost": len(lost), "lost_seqs": lost[:20],
               "max_gap_ms": round(max_gap * 1000, 1), "start": start, "end": end}, sys.stdout)
    print()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("echo")
    e.add_argument("port", type=int)
    s = sub.add_parser("send")
    s.add_argument("dst")
    s.add_argument("port", type=int)
    s.add_argument("--rate", type=float, default=200)
    s.add_argument("--seconds", type=float, default=5)
    s.add_argument("--source", default="0.0.0.0")
    s.add_argument("--grace", type=float, default=1.0)
    args = parser.parse_args()
    if args.mode == "echo":
        echo(args.port)
    else:
        send(args)


if __name__ == "__main__":
    main()
