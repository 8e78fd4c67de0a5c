#!/usr/bin/python3
"""A fake WCCPv2 cache (the Squid side) for wccp-cache.test.sh, on plain UDP sockets.

  wccp_cache.py join --router R --cache C [--password PW] [--hello S] [--seconds N]
      HERE_I_AM to R:2048, read the I_SEE_YOU's ReceiveID, echo it, then (as designated
      cache) REDIRECT_ASSIGN every hash bucket to itself; keep saying HERE_I_AM every
      --hello seconds for --seconds (0 = until killed). Prints "usable" and "assigned".
  wccp_cache.py badpass --router R --cache C --password PW
      one HERE_I_AM signed with PW (the router has another password), from an ephemeral port.

Message layout: draft-wilson-wrec-wccp-v2 as summarised in /work/shared/references/specs.md §2,
built as Squid 5.7 builds it (Web-Cache View change number 1, 3 capabilities: GRE/hash/GRE).
"""
import argparse, hashlib, socket, struct, sys, time

PORT = 2048
HERE_I_AM, I_SEE_YOU, REDIRECT_ASSIGN = 10, 11, 12


def ip(text):
    return socket.inet_aton(text)


def component(ctype, body):
    return struct.pack("!HH", ctype, len(body)) + body


def message(mtype, components, password):
    """Header + components; Security first (MD5 digest filled in when a password is given)."""
    security = struct.pack("!I", 1) + bytes(16) if password is not None else struct.pack("!I", 0)
    body = component(0, security) + b"".join(components)
    data = bytearray(struct.pack("!IHH", mtype, 0x0200, len(body)) + body)
    if password is not None:
        key = password.encode()[:8].ljust(8, b"\0")
        data[16:32] = hashlib.md5(key + bytes(data)).digest()   # digest bytes are zero while hashing
    return bytes(data)


SERVICE_WEB_CACHE = component(1, struct.pack("!BBBBI", 0, 0, 0, 0, 0) + bytes(16))
SERVICE = SERVICE_WEB_CACHE


def dynamic_service(service_id, protocol, port):
    """A dynamic service: one port (destination), ports-defined (0x10) + source-port hash (0x04)."""
    return component(1, struct.pack("!BBBBI", 1, service_id, 240, protocol, 0x14)
                     + struct.pack("!8H", port, 0, 0, 0, 0, 0, 0, 0))


def here_i_am(cache, router, receive_id, password):
    identity = component(3, ip(cache) + struct.pack("!HH", 0, 0) + bytes(32) + struct.pack("!HH", 10000, 0))
    view = component(5, struct.pack("!II", 1, 1) + ip(router) + struct.pack("!II", receive_id, 0))
    caps = component(8, b"".join(struct.pack("!HHI", t, 4, 1) for t in (1, 2, 3)))
    return message(HERE_I_AM, [SERVICE, identity, view, caps], password)


def redirect_assign(cache, router, receive_id, change_number, password):
    body = ip(cache) + struct.pack("!I", 1)                            # assignment key
    body += struct.pack("!I", 1) + ip(router) + struct.pack("!II", receive_id, change_number)
    body += struct.pack("!I", 1) + ip(cache) + bytes(256)               # every bucket -> cache 0
    return message(REDIRECT_ASSIGN, [SERVICE, component(6, body)], password)


def parse_i_see_you(data):
    """(ReceiveID, member change number) of an I_SEE_YOU, or None."""
    if len(data) < 8 or struct.unpack("!I", data[:4])[0] != I_SEE_YOU:
        return None
    receive_id = change = None
    offset = 8
    while offset + 4 <= len(data):
        ctype, length = struct.unpack("!HH", data[offset:offset + 4])
        body = data[offset + 4:offset + 4 + length]
        if ctype == 2:
            receive_id = struct.unpack("!I", body[4:8])[0]
        elif ctype == 4:
            change = struct.unpack("!I", body[:4])[0]
        offset += 4 + length
    return (receive_id, change) if receive_id is not None and change is not None else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["join", "badpass"])
    p.add_argument("--router", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--password")
    p.add_argument("--hello", type=float, default=0.5)
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--service", type=int, default=0, help="dynamic service ID (default: web-cache)")
    p.add_argument("--protocol", type=int, default=17, help="with --service: IP protocol")
    p.add_argument("--port", type=int, default=9, help="with --service: the destination port")
    a = p.parse_args()
    global SERVICE
    if a.service:
        SERVICE = dynamic_service(a.service, a.protocol, a.port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.cache, PORT if a.mode == "join" else 0))
    s.settimeout(2)
    if a.mode == "badpass":
        s.sendto(here_i_am(a.cache, a.router, 0, a.password), (a.router, PORT))
        return 0

    def exchange(receive_id):
        s.sendto(here_i_am(a.cache, a.router, receive_id, a.password), (a.router, PORT))
        while True:
            data, _ = s.recvfrom(4096)
            parsed = parse_i_see_you(data)
            if parsed:
                return parsed

    receive_id, _ = exchange(0)
    receive_id, change = exchange(receive_id)
    print("usable", receive_id, change, flush=True)
    s.sendto(redirect_assign(a.cache, a.router, receive_id, change, a.password), (a.router, PORT))
    print("assigned", flush=True)
    deadline = time.monotonic() + a.seconds if a.seconds else None
    while deadline is None or time.monotonic() < deadline:
        time.sleep(a.hello)
        try:
            receive_id, change = exchange(receive_id)
        except socket.timeout:
            print("no I_SEE_YOU", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
