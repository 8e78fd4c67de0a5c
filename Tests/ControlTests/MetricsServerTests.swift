import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
@testable import Control

/// The Prometheus endpoint over a real TCP connection on loopback: GET
/// /metrics answers 200 with the exposition content type and the page,
/// HEAD answers without a body, other paths 404, other methods 405.
@Suite struct MetricsServerTests {
    /// Sends `request` raw and returns the whole response (the server closes: Connection: close).
    static func exchange(port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(rc == 0)
        _ = request.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress!, $0.count - 1, 0) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func servesThePage() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let page = "# TYPE egressd_up gauge\negressd_up 1\n"
        let server = MetricsServer(eventLoop: loop, address: "127.0.0.1", port: 0) { page }
        let bound = loop.makePromise(of: Void.self)
        loop.execute { server.start { bound.completeWith($0) } }
        try bound.futureResult.wait()
        let port = try #require(try loop.submit { server.channel?.localAddress?.port }.wait())
        defer { try? loop.submit { server.stop() }.wait() }

        let ok = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(ok.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(ok.hasSuffix("\r\n\r\n" + page))
        let head = try Self.exchange(port: port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("\r\n\r\n"))
        let missing = try Self.exchange(port: port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(missing.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        let post = try Self.exchange(port: port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
    }

    /// A connected TCP socket to 127.0.0.1:port with a receive timeout.
    static func connectLoopback(port: Int, receiveTimeoutMs: Int = 3000) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var tv = timeval(tv_sec: receiveTimeoutMs / 1000, tv_usec: (receiveTimeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// True when the server closed `fd` (recv sees end of stream before the timeout).
    static func closedByServer(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    /// Connections beyond the bound are closed at once and counted; a freed slot is usable
    /// again; a kept-alive connection that stays idle is closed.
    @Test func connectionsAreBoundedAndIdleOnesClosed() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let server = MetricsServer(eventLoop: loop, address: "127.0.0.1", port: 0, maxConnections: 3,
                                   idleTimeout: .milliseconds(1500)) { "egressd_up 1\n" }
        let bound = loop.makePromise(of: Void.self)
        loop.execute { server.start { bound.completeWith($0) } }
        try bound.futureResult.wait()
        let port = try #require(try loop.submit { server.channel?.localAddress?.port }.wait())
        defer { try? loop.submit { server.stop() }.wait() }

        let held = (0..<3).map { _ in Self.connectLoopback(port: port, receiveTimeoutMs: 50) }
        defer { held.forEach { close($0) } }
        // The three are open (no end of stream within 50 ms: recv times out instead).
        for fd in held { #expect(!Self.closedByServer(fd)) }
        let fourth = Self.connectLoopback(port: port)
        defer { close(fourth) }
        #expect(Self.closedByServer(fourth))
        #expect(try loop.submit { server.connectionsRefused }.wait() == 1)
        // Idle for longer than the timeout: the held connections are closed by the server.
        usleep(2_000_000)
        for fd in held {
            var tv = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            #expect(Self.closedByServer(fd))
        }
        #expect(try loop.submit { server.openConnections }.wait() == 0)
        // Slots are free again: a request is answered.
        let ok = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"))
    }
}
