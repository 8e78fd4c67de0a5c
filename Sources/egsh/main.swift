// egsh: the operator's shell. Connects to egressd's UNIX socket and runs
// commands: from -c options, or line by line from standard input (with a
// prompt when it is a terminal). Exit status 1 if any command failed.

import ArgumentParser
import Control
#if canImport(Glibc)
import Glibc
#endif

@main
struct Egsh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "egsh", abstract: "The egressd shell: show and configure a running egressd.")

    @Option(name: .long, help: "The daemon's control socket.")
    var socket: String = ShellProtocol.defaultSocketPath

    @Option(name: .customShort("c"), help: "Run this command and exit (repeatable).")
    var command: [String] = []

    mutating func run() throws {
        let connection: ShellConnection
        do {
            connection = try ShellConnection(path: socket)
        } catch {
            printError("egsh: cannot connect to egressd at \(socket): \(error) (is egressd running? use --socket PATH)")
            throw ExitCode(2)
        }
        var failed = false
        if !command.isEmpty {
            for c in command { failed = !runOne(c, on: connection) || failed }
        } else {
            let interactive = isatty(0) != 0
            while true {
                if interactive {
                    print("egressd# ", terminator: "")
                    flushStandardOutput()
                }
                guard let line = readLine() else { break }
                let trimmed = line.trimmedLine()
                if trimmed.isEmpty || trimmed.hasPrefix("!") { continue }
                if interactive, trimmed == "exit" || trimmed == "quit" { break }
                failed = !runOne(trimmed, on: connection) || failed
            }
        }
        if failed { throw ExitCode(1) }
    }

    func runOne(_ command: String, on connection: ShellConnection) -> Bool {
        do {
            let (ok, output) = try connection.execute(command)
            if ok { print(output, terminator: "") } else { printError(output, terminator: "") }
            return ok
        } catch {
            printError("egsh: \(error)")
            return false
        }
    }
}

func printError(_ s: String, terminator: String = "\n") {
    let bytes = Array((s + terminator).utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
}

func flushStandardOutput() {
    fflush(nil)
}

/// A blocking client connection speaking ShellProtocol.
final class ShellConnection {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ShellError(String(cString: strerror(errno))) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw ShellError("socket path too long") }
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

    func execute(_ command: String) throws -> (Bool, String) {
        let line = Array((command + "\n").utf8)
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
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
        guard let (ok, length) = ShellProtocol.parseHeader(String(decoding: header, as: UTF8.self)) else {
            throw ShellError("malformed response from egressd")
        }
        return (ok, String(decoding: try readExactly(length), as: UTF8.self))
    }

    func readExactly(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, count - got) }
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
