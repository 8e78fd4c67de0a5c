// Least privilege: egressd switches to its user (--user/--group) and keeps
// only CAP_NET_ADMIN (TUNs, addresses, routes, per-TUN sysctls), CAP_NET_RAW
// (raw and AF_PACKET sockets) and CAP_NET_BIND_SERVICE (BGP listens on TCP 179,
// and `router bgp` may be configured at any reload). It does so at start-up,
// before the first thread exists: Linux credentials are per thread and every
// thread made later (workers, the control event loop) inherits exactly these.
// Everything egressd sets up, at start and at reload, works with them
// (Tests/Namespace/least-privilege.test.sh proves it). egressd/main.swift calls it.

import CPrivileges
#if canImport(Glibc)
import Glibc
#endif

public struct PrivilegeDrop {
    public static let kept: UInt64 = 1 << UInt64(EGRESSD_CAP_NET_ADMIN) | 1 << UInt64(EGRESSD_CAP_NET_RAW)
        | 1 << UInt64(EGRESSD_CAP_NET_BIND_SERVICE)

    /// CAP_BPF (39) and CAP_IPC_LOCK (14): kept as well with `dataplane
    /// io-backend afxdp`, when the process has them: the engine loads its XDP
    /// program and registers AF_XDP UMEMs (locked memory, 8 MiB per socket,
    /// beyond RLIMIT_MEMLOCK) after the drop.
    public static let xdpCapabilities: UInt64 = 1 << 39 | 1 << 14

    /// CAP_SYS_NICE (23): kept as well with `dataplane worker realtime`, when held (the
    /// workers ask for SCHED_FIFO after the drop).
    public static let realtimeCapabilities: UInt64 = 1 << 23

    var user: (uid: uid_t, gid: gid_t)?
    var groups: [gid_t] = []
    /// Capabilities kept beyond `kept` when held (xdpCapabilities).
    public var extra: UInt64 = 0

    /// Resolves --user/--group (names or numbers); the group defaults to the user's primary group.
    public init(user: String?, group: String?, socketGroup: gid_t?) throws(StartupError) {
        if let user {
            let uid: uid_t, primary: gid_t
            if let pw = getpwnam(user) {
                uid = pw.pointee.pw_uid; primary = pw.pointee.pw_gid
            } else if let n = uid_t(user), let pw = getpwuid(n) {
                uid = n; primary = pw.pointee.pw_gid
            } else if let n = uid_t(user), group != nil {
                uid = n; primary = 0
            } else {
                throw StartupError("unknown user '\(user)' for --user: create it (scripts/install.sh does) or give a numeric uid and --group")
            }
            var gid = primary
            if let group { gid = try Self.groupID(group, option: "--group") }
            self.user = (uid, gid)
            groups = [gid]
        } else if group != nil {
            throw StartupError("--group needs --user: give the user to run as too")
        }
        // The shell socket's group: being a member lets egressd chown the socket without CAP_CHOWN.
        if let socketGroup, !groups.contains(socketGroup) { groups.append(socketGroup) }
    }

    public static func groupID(_ name: String, option: String) throws(StartupError) -> gid_t {
        if let entry = getgrnam(name) { return entry.pointee.gr_gid }
        if let number = gid_t(name) { return number }
        throw StartupError("unknown group '\(name)' for \(option): create it (scripts/install.sh does) or give a numeric gid")
    }

    public func apply() throws(StartupError) {
        let threads = egressd_thread_count()
        guard threads == 1 else {
            throw StartupError("internal error: privileges must be dropped before threads start (\(threads) running); report this bug")
        }
        var e: UInt64 = 0, p: UInt64 = 0, i: UInt64 = 0, b: UInt64 = 0
        let known = egressd_capabilities(&e, &p, &i, &b) == 0
        let permitted = known ? p : 0
        if known, p & Self.kept != Self.kept {
            throw StartupError("not enough privileges (needs CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE): run it as root "
                               + "(it drops the rest itself, and --user switches user) or grant them, e.g. systemd AmbientCapabilities=")
        }
        var message = [CChar](repeating: 0, count: 256)
        let rc = groups.withUnsafeBufferPointer { g in
            egressd_drop_privileges(Self.kept | (extra & permitted), user == nil ? 0 : 1, user?.uid ?? 0, user?.gid ?? 0,
                                    g.baseAddress, g.count, &message, message.count)
        }
        guard rc == 0 else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw StartupError("cannot drop privileges: \(text): run egressd as root, or without --user")
        }
    }
}

/// A start-up failure: one line that says what to do.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
