import Foundation
import Glibc

/// A network namespace of our own for the kernel tests: `ip netns add nltest-<pid>-<random>`,
/// removed by `remove()` (call it in a `defer`). Every address the tests touch lives inside it.
final class TestNamespace {
    static let ipPath = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// The kernel tests need root (to create namespaces) and iproute2.
    static var isUsable: Bool { getuid() == 0 && ipPath != nil }

    let name: String

    init() throws {
        Self.removeLeftovers()
        name = "nltest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let result = Self.run(["netns", "add", name])
        guard result.status == 0 else { throw HarnessError(message: "ip netns add \(name): \(result.output)") }
    }

    /// Deletes namespaces of earlier test runs that died before their `defer` ran (a trap
    /// skips it): those named nltest-PID-* whose PID no longer exists.
    static func removeLeftovers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in names where name.hasPrefix("nltest-") {
            let parts = name.split(separator: "-")
            guard parts.count == 3, let pid = Int32(parts[1]), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            _ = run(["netns", "del", name])
        }
    }

    func remove() {
        _ = Self.run(["netns", "del", name])
    }

    /// Runs `ip -n NAME ARGS...` and returns its exit status and output (stdout + stderr).
    @discardableResult
    func ip(_ args: String...) -> (status: Int32, output: String) {
        Self.run(["-n", name] + args)
    }

    /// Runs `ip -n NAME ARGS...`, failing the test when it fails.
    func mustIP(_ args: String...) throws {
        let result = Self.run(["-n", name] + args)
        guard result.status == 0 else {
            throw HarnessError(message: "ip \(args.joined(separator: " ")): \(result.output)")
        }
    }

    /// Runs `ip -n NAME -j ARGS...` and parses its JSON array of objects.
    func json(_ args: String...) throws -> [[String: Any]] {
        let result = Self.run(["-n", name, "-j"] + args)
        guard result.status == 0 else { throw HarnessError(message: "ip -j \(args.joined(separator: " ")): \(result.output)") }
        let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        guard let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw HarnessError(message: "ip -j \(args.joined(separator: " ")): not a JSON array: \(text)")
        }
        return array
    }

    static func run(_ args: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ipPath ?? "/usr/sbin/ip")
        process.arguments = args
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
