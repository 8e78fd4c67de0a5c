#!/usr/bin/python3
"""Per-packet figures from one callgrind dump written with --separate-threads=yes.

Usage: callgrind_summary.py PACKETS CASE FILE...   (FILE: one per thread of the same dump)

The worker thread is the one with the most instructions in the window (the control threads
sleep while packets flow; the line `profile_worker_share_CASE` shows how dominant it is).
Prints `name: value unit` lines and `#` notes: instructions per packet (worker thread, and
all threads), the top functions by exclusive instructions per packet, and calls per packet
of the runtime's ARC, allocation and locking entry points in the worker thread.
Callgrind counts user-space instructions only: the kernel's work in system calls is not in
these figures.
"""
import re
import subprocess
import sys

WATCHED = re.compile(r"^(swift_retain|swift_release|swift_retain_n|swift_release_n|swift_bridgeObjectRetain|"
                     r"swift_bridgeObjectRelease|swift_unknownObjectRetain|swift_unknownObjectRelease|"
                     r"swift_allocObject|swift_deallocObject|swift_slowAlloc|swift_slowDealloc|"
                     r"malloc|calloc|realloc|free|_int_malloc|pthread_mutex_lock|__pthread_mutex_lock|"
                     r"swift_dynamicCast\w*|swift_getGenericMetadata|swift_conformsToProtocol\w*|"
                     r"swift_beginAccess|swift_endAccess)$")


def parse(path):
    """(total Ir, {function: exclusive Ir}, {callee: calls}, {(caller, callee): calls})"""
    names = {}
    exclusive = {}
    calls = {}
    edges = {}
    total = 0
    current = None
    callee = None
    after_calls = False
    name_re = re.compile(r"^\((\d+)\)(?: (.*))?$")

    def resolve(text):
        m = name_re.match(text)
        if not m:
            return text
        ident, name = m.group(1), m.group(2)
        if name is not None:
            names[ident] = name
            return name
        return names.get(ident, "?" + ident)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                try:
                    cost = int(parts[1])
                except ValueError:
                    continue
                if after_calls:
                    after_calls = False  # inclusive cost of a call: not this function's own
                    continue
                if current is not None:
                    exclusive[current] = exclusive.get(current, 0) + cost
                    total += cost
            elif line.startswith("fn="):
                current = resolve(line[3:])
            elif line.startswith("cfn="):
                callee = resolve(line[4:])
            elif line.startswith("calls="):
                n = int(line[6:].split()[0])
                calls[callee] = calls.get(callee, 0) + n
                edges[(current, callee)] = edges.get((current, callee), 0) + n
                after_calls = True
            elif line.startswith(("fl=", "fi=", "fe=", "cfi=", "cfl=", "ob=", "cob=")):
                # file and object names share the same compression scheme, in other tables
                pass
    return total, exclusive, calls, edges


def demangle(names):
    try:
        out = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(names),
                             capture_output=True, text=True, timeout=30).stdout.splitlines()
        if len(out) == len(names):
            return out
    except (OSError, subprocess.SubprocessError):
        pass
    return names


def main():
    packets = int(sys.argv[1])
    case = sys.argv[2]
    threads = [parse(p) for p in sys.argv[3:]]
    if packets <= 0 or not threads:
        print(f"# profile {case}: no packets or no dump", file=sys.stderr)
        return 1
    all_ir = sum(t[0] for t in threads)
    worker = max(threads, key=lambda t: t[0])
    total, exclusive, calls, edges = worker
    print(f"instructions_per_pkt_{case}: {total / packets:.0f} instructions")
    print(f"instructions_per_pkt_all_threads_{case}: {all_ir / packets:.0f} instructions")
    print(f"profile_packets_{case}: {packets} packets")
    print(f"profile_worker_share_{case}: {100.0 * total / all_ir if all_ir else 0:.1f} %")
    top = sorted(exclusive.items(), key=lambda kv: -kv[1])[:12]
    pretty = demangle([name for name, _ in top])
    print(f"# top functions of the worker thread ({case}), exclusive instructions per packet:")
    for (name, ir), shown in zip(top, pretty):
        shown = shown if len(shown) <= 150 else shown[:147] + "..."
        print(f"#   {ir / packets:9.1f}  {shown}")
    watched = sorted((n, c) for n, c in calls.items() if n and WATCHED.match(n))
    arc = sum(c for n, c in watched if "retain" in n.lower() or "release" in n.lower())
    alloc = sum(c for n, c in watched if re.search(r"alloc|malloc|free", n))
    locks = sum(c for n, c in watched if "mutex" in n)
    print(f"arc_calls_per_pkt_{case}: {arc / packets:.3f} calls")
    print(f"alloc_calls_per_pkt_{case}: {alloc / packets:.3f} calls")
    print(f"lock_calls_per_pkt_{case}: {locks / packets:.3f} calls")
    for kind, n in (("ARC (swift_retain/release)", arc), ("allocation (malloc/free/swift_allocObject)", alloc), ("mutex", locks)):
        if n == 0:
            verdict = "none in the worker thread"
        elif n < 0.9 * packets:
            verdict = f"{n / packets:.3f} per packet: fewer than one, so not on every packet (per batch or poll round)"
        else:
            verdict = f"{n / packets:.3f} per packet: on the per-packet path"
        print(f"# {kind} calls ({case}): {verdict}")
    if watched:
        listing = ", ".join(f"{n} {c / packets:.3f}" for n, c in watched)
        print(f"# worker thread ({case}) runtime calls per packet: {listing}")
        watched_edges = sorted(((caller, callee, c) for (caller, callee), c in edges.items()
                                if callee and WATCHED.match(callee)), key=lambda e: -e[2])
        # The biggest ARC callers, and every other kind's (allocation, locks) biggest too.
        callers = [e for e in watched_edges if "retain" in e[1].lower() or "release" in e[1].lower()][:6]
        callers += [e for e in watched_edges if not ("retain" in e[1].lower() or "release" in e[1].lower())][:4]
        shown = demangle([caller or "?" for caller, _, _ in callers])
        for (caller, callee, c), name in zip(callers, shown):
            name = name if len(name) <= 120 else name[:117] + "..."
            print(f"#   {callee} {c / packets:.3f}/pkt from {name}")
    else:
        print(f"# worker thread ({case}): no swift_retain/swift_release/malloc/free/lock call in the window")
    return 0


if __name__ == "__main__":
    sys.exit(main())
