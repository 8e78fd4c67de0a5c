import Glibc

/// A failed netlink operation: what was being done, the errno, and readable text such as
/// "RTM_NEWROUTE 10.1.0.0/16: File exists (EEXIST)".
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being done, e.g. "RTM_NEWROUTE 10.1.0.0/16" or "open netns blue".
    public var operation: String
    /// The errno reported by the kernel or a system call; 0 when the failure is not an errno
    /// (a malformed reply, an argument the kernel could never accept).
    public var errno: Int32
    /// The kernel's extended-ack message, or the explanation of a non-errno failure.
    public var detail: String?

    /// An error from an errno value (positive, as in errno.h).
    public init(operation: String, errno: Int32, detail: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    /// A failure that has no errno, e.g. a reply the parser could not read.
    public static func invalid(_ operation: String, _ detail: String) -> NetlinkError {
        NetlinkError(operation: operation, errno: 0, detail: detail)
    }

    /// The symbolic name of `errno` ("EEXIST"), or "errno N" when it is not in the table.
    public var errnoName: String {
        Self.errnoNames[errno] ?? "errno \(errno)"
    }

    /// True when the object the request named does not exist (route, address, link).
    public var isNotFound: Bool { errno == ESRCH || errno == ENOENT || errno == ENODEV || errno == EADDRNOTAVAIL }

    /// True when the kernel refused to create something that already exists.
    public var isAlreadyExists: Bool { errno == EEXIST }

    public var description: String {
        var text = operation + ": "
        if errno != 0 {
            text += String(cString: strerror(errno)) + " (\(errnoName))"
            if let detail, !detail.isEmpty { text += ": " + detail }
        } else {
            text += detail ?? "failed"
        }
        return text
    }

    /// The errnos rtnetlink and the socket calls actually return; others print as numbers.
    /// (ENOTSUP is EOPNOTSUPP on Linux, so it has no entry of its own.)
    static let errnoNames: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO",
        ENXIO: "ENXIO", E2BIG: "E2BIG", EBADF: "EBADF", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
        EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", ENODEV: "ENODEV",
        EINVAL: "EINVAL", ENFILE: "ENFILE", EMFILE: "EMFILE", ENOSPC: "ENOSPC", ERANGE: "ERANGE",
        EMSGSIZE: "EMSGSIZE", EPROTONOSUPPORT: "EPROTONOSUPPORT", EOPNOTSUPP: "EOPNOTSUPP",
        EAFNOSUPPORT: "EAFNOSUPPORT", EADDRINUSE: "EADDRINUSE", EADDRNOTAVAIL: "EADDRNOTAVAIL",
        ENETDOWN: "ENETDOWN", ENETUNREACH: "ENETUNREACH", ENOBUFS: "ENOBUFS",
        ETIMEDOUT: "ETIMEDOUT", EHOSTUNREACH: "EHOSTUNREACH",
        ENOTCONN: "ENOTCONN", EPROTO: "EPROTO", ENODATA: "ENODATA",
    ]
}
