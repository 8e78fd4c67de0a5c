// Errors from the engine's system calls, with text an operator can act on.

#if canImport(Glibc)
import Glibc
#endif

public struct EngineError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32
    public let hint: String?

    public init(_ operation: String, errno: Int32, hint: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.hint = hint
    }

    public var description: String {
        let text = String(cString: strerror(errno))
        return "\(operation): \(text)" + (hint.map { " (\($0))" } ?? "")
    }

    /// A hint for the common start-up failures.
    static func hint(for errno: Int32) -> String? {
        switch errno {
        case EPERM: "egressd needs root or CAP_NET_ADMIN and CAP_NET_RAW"
        case EACCES: "run egressd as root, or let its group open /dev/net/tun (the udev rule of scripts/install.sh)"
        case ENOENT, ENODEV: "no /dev/net/tun: load the tun module or create the device node"
        case EBUSY: "the interface exists and is in use by another program"
        default: nil
        }
    }
}
