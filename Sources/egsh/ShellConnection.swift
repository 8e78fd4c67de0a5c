// The client end of the control socket: blocking requests and framed
// responses (ShellProtocol).

import Control
#if canImport(Glibc)
import Glibc
#endif

/// A blocking client connection speaking ShellProtocol.
final class ShellConnection {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ShellError(String(cString: strerror(errno))) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw ShellError("socket path too long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            p.copyBytes(from: bytes)
            p[bytes.count] = 0
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let e = errno
            close(fd)
            throw ShellError(String(cString: strerror(e)))
        }
    }

    deinit { close(fd) }

    /// Sends one request and waits for its response.
    func request(_ request: ShellRequest) throws -> ShellResponse {
        // A newline inside the request would be read as a second command.
        let text = ShellProtocol.encodeRequest(request).filter { $0 != "\n" && $0 != "\r\n" }
        let line = Array((text + "\n").utf8)
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw ShellError("connection to egressd lost") }
            sent += n
        }
        var header: [UInt8] = []
        while true {
            let b = try readExactly(1)
            if b[0] == UInt8(ascii: "\n") { break }
            header += b
            if header.count > 32 { throw ShellError("malformed response from egressd") }
        }
        guard let (status, length) = ShellProtocol.parseHeader(String(decoding: header, as: UTF8.self)) else {
            throw ShellError("malformed response from egressd")
        }
        return ShellResponse(status, String(decoding: try readExactly(length), as: UTF8.self))
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, count - got) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw ShellError("connection to egressd closed") }
            got += n
        }
        return out
    }
}

struct ShellError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
