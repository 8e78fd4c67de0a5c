// egsh: the operator's shell. Connects to egressd's UNIX socket and runs
// commands: from -c options, line by line from standard input (scripts), or
// interactively with line editing, history, TAB completion and `?` help
// answered by the daemon. Exit status 1 if any command failed, 2 if the
// daemon cannot be reached.

import ArgumentParser
import Control
#if canImport(Glibc)
import Glibc
#endif

struct Egsh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "egsh", abstract: "The egressd shell: show and configure a running egressd.")

    @Option(name: .long, help: "The daemon's control socket.")
    var socket: String = ShellProtocol.defaultSocketPath

    @Option(name: .customShort("c"), help: "Run this command and exit (repeatable; one session, so modes carry over).")
    var command: [String] = []

    @Flag(name: .long, help: "Do not page long output on a terminal.")
    var noPager = false

    mutating func run() throws {
        let connection: ShellConnection
        do {
            connection = try ShellConnection(path: socket)
        } catch {
            writeError("egsh: cannot connect to egressd at \(socket): \(error) (is egressd running? use --socket PATH)\n")
            throw ExitCode(2)
        }
        let terminal = isatty(0) != 0 && isatty(1) != 0
        let pager = Pager(enabled: terminal && !noPager)
        let ok: Bool
        do {
            if !command.isEmpty {
                ok = try runCommands(command, on: connection, pager: pager)
            } else if isatty(0) != 0 {
                try InteractiveShell(connection: connection, pager: pager, historyFile: Self.historyFile()).run()
                ok = true
            } else {
                ok = try runScript(on: connection)
            }
        } catch {
            writeError("egsh: \(error)\n")
            throw ExitCode(1)
        }
        if !ok { throw ExitCode(1) }
    }

    /// `-c` commands in order, in one session; stops after `exit`.
    func runCommands(_ commands: [String], on connection: ShellConnection, pager: Pager) throws -> Bool {
        var ok = true
        for c in commands {
            let response = try connection.request(.line(c))
            report(response, pager: pager)
            if response.status == .error { ok = false }
            if response.status == .closed { break }
        }
        return ok
    }

    /// Commands from standard input, one per line (blank lines and `!`
    /// comments skipped); every line runs even after a failure.
    func runScript(on connection: ShellConnection) throws -> Bool {
        var ok = true
        while let line = readLine() {
            let trimmed = line.trimmedLine()
            if trimmed.isEmpty || trimmed.hasPrefix("!") { continue }
            let response = try connection.request(.line(trimmed))
            report(response, pager: Pager(enabled: false))
            if response.status == .error { ok = false }
            if response.status == .closed { break }
        }
        return ok
    }

    /// Output to stdout, errors to stderr (scripts can tell them apart).
    func report(_ response: ShellResponse, pager: Pager) {
        if response.status == .error { writeError(response.output) } else { pager.show(response.output) }
    }

    /// $EGSH_HISTORY, else ~/.egsh_history (nil without a home).
    static func historyFile() -> String? {
        if let path = getenv("EGSH_HISTORY") { return String(cString: path) }
        guard let home = getenv("HOME") else { return nil }
        return String(cString: home) + "/.egsh_history"
    }
}

/// Writes to standard output, unbuffered.
func writeOutput(_ s: String) { writeAll(1, s) }

/// Writes to standard error, unbuffered.
func writeError(_ s: String) { writeAll(2, s) }

private func writeAll(_ fd: Int32, _ s: String) {
    let bytes = Array(s.utf8)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { return }
        sent += n
    }
}
