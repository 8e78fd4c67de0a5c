// The wire format between egsh and the daemon on the UNIX socket: one
// command per line from the client; for each, a header line
// "<status> <byte count>\n" and then exactly that many bytes of output.
// Status 0 is success, 1 an error (the output then says what went wrong).

public enum ShellProtocol {
    public static let defaultSocketPath = "/run/egressd/egressd.sock"

    public static func encodeResponse(ok: Bool, output: String) -> [UInt8] {
        let body = Array(output.utf8)
        return Array("\(ok ? 0 : 1) \(body.count)\n".utf8) + body
    }

    /// Parses a response header line ("0 123").
    public static func parseHeader(_ line: String) -> (ok: Bool, length: Int)? {
        let parts = line.split(separator: " ")
        guard parts.count == 2, let status = Int(parts[0]), let length = Int(parts[1]), length >= 0 else { return nil }
        return (status == 0, length)
    }
}
