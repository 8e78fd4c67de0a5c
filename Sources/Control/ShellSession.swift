// One shell connection's session: the mode it is in (exec, or a
// configuration mode with its sub-mode stack), and what each request does.
// IOS behaviour: in configuration mode a line takes effect when it is
// entered. Each line is read by a ConfigSession over a copy of the running
// config; if accepted, the new config is applied live through the backend
// (which changes only what differs); a refused line changes nothing.
//
// The session does no I/O of its own: the daemon side (Appliance) is behind
// ShellBackend, so tests drive sessions with a fake.

import Commands

/// What a shell session needs from the daemon.
public protocol ShellBackend: AnyObject {
    /// The configuration in effect.
    var runningConfig: RunningConfig { get }
    /// Makes `config` the running configuration, applying the difference
    /// live; `line` is the shell line that caused it (for the log).
    func apply(_ config: RunningConfig, line: String) throws
    /// The output of a `show` command.
    func show(_ command: ShowCommand, json: Bool) -> ShellResponse
    /// Current values of an argument, for completion (tunnel names, ...).
    func liveValues(for slot: ArgumentSlot) -> [String]
}

/// A shell connection's state and its request handling.
public final class ShellSession {
    let backend: any ShellBackend
    /// Where `write memory` saves; nil when the daemon runs without a file.
    let configFile: ConfigFileStore?
    let registry: CommandRegistry
    /// The configuration-mode session; nil in exec mode.
    public private(set) var configuration: ConfigSession?
    /// The client echoes typed lines: errors then show only the caret.
    public private(set) var interactive = false

    /// A session in exec mode.
    public init(backend: any ShellBackend, configFile: ConfigFileStore?, registry: CommandRegistry = .standard) {
        self.backend = backend
        self.configFile = configFile
        self.registry = registry
    }

    /// The current mode (exec, config, config-if, ...).
    public var mode: CommandMode { configuration?.mode ?? .exec }

    /// "egress-a#", "egress-a(config)#", "egress-a(config-if)#"; the
    /// client shows it followed by one blank.
    public var prompt: String {
        let host = backend.runningConfig.hostname
        return mode == .exec ? "\(host)#" : "\(host)(\(mode.name))#"
    }

    /// Answers one request line as received from the socket.
    public func handle(_ raw: String) -> ShellResponse {
        switch ShellProtocol.parseRequest(raw) {
        case .line(let line): return execute(line)
        case .prompt: return .ok(prompt)
        case .complete(let line): return complete(line)
        case .help(let line): return help(line)
        case .interactive:
            interactive = true
            return .ok("")
        }
    }

    // MARK: Commands

    /// Runs a command line in the current mode.
    public func execute(_ line: String) -> ShellResponse {
        let trimmed = line.trimmedLine()
        if trimmed.isEmpty || trimmed.hasPrefix("!") { return .ok("") }
        let promptShown = prompt
        do throws(CommandError) {
            if configuration != nil { return try executeConfigLine(trimmed) }
            let (command, filter) = try OutputFilter.split(trimmed)
            return run(try registry.parseExec(command), filter: filter)
        } catch {
            return .error(render(error, line: trimmed, prompt: promptShown))
        }
    }

    /// A line in a configuration mode: applied at once, or refused whole.
    private func executeConfigLine(_ line: String) throws(CommandError) -> ShellResponse {
        guard var session = configuration else { return .error("% Not in configuration mode\n") }
        // `do show ... | include x`: the filter is not part of the config grammar.
        var command = line
        var filter: OutputFilter?
        if Self.words(line).first?.lowercased() == "do" {
            (command, filter) = try OutputFilter.split(line)
        }
        // SIGHUP or another shell may have changed the config meanwhile.
        session.config = backend.runningConfig
        let outcome = try session.execute(command)
        switch outcome {
        case .exec(let exec):
            return run(exec, filter: filter)
        case .applied, .leftConfiguration:
            if session.config != backend.runningConfig {
                do {
                    try backend.apply(session.config, line: line)
                } catch {
                    return .error("% Could not apply the change: \(error)\n")
                }
            }
            configuration = outcome == .leftConfiguration ? nil : session
            return .ok("")
        }
    }

    /// Runs an exec command (typed in exec mode, or `do ...`).
    private func run(_ command: ExecCommand, filter: OutputFilter?) -> ShellResponse {
        switch command {
        case .show(let show, let json):
            var response = backend.show(show, json: json)
            if let filter, response.status == .ok { response.output = filter.apply(to: response.output) }
            return response
        case .configureTerminal:
            if configuration == nil { configuration = ConfigSession(config: backend.runningConfig, registry: registry) }
            return .ok("")
        case .exit:
            // `do exit` in config mode does not end the connection.
            return configuration == nil ? ShellResponse(.closed, "") : .ok("")
        case .end:
            return .ok("")
        case .writeMemory:
            return writeMemory()
        }
    }

    /// `write memory`: the running config to the daemon's config file.
    private func writeMemory() -> ShellResponse {
        guard let configFile else {
            return .error("% No configuration file: egressd was started without one\n")
        }
        do {
            let kept = try configFile.save(backend.runningConfig.render())
            let backup = kept ? " (previous file kept as \(configFile.backupPath))" : ""
            return .ok("Building configuration...\nSaved to \(configFile.path)\(backup)\n[OK]\n")
        } catch {
            return .error("% \(error)\n")
        }
    }

    /// IOS shows a caret under the word; the interactive client has the line
    /// on screen already (after the prompt and a blank), scripts need it echoed.
    private func render(_ error: CommandError, line: String, prompt: String) -> String {
        if interactive { return error.caretLine(indent: prompt.count + 1) + "\n" + error.message + "\n" }
        return error.rendered(line: line) + "\n"
    }

    // MARK: Completion and help

    /// The possible next words after `line`, with live values. In a sub-mode
    /// the enclosing modes are asked when the current one offers nothing, as
    /// their commands are accepted there too.
    public func completions(_ line: String) throws(CommandError) -> [Completion] {
        if let bar = line.firstIndex(of: "|"), isExecLine(line) {
            let afterBar = line[line.index(after: bar)...]
            let words = Self.words(String(afterBar))
            let endsInBlank = afterBar.last == " " || afterBar.last == "\t"
            if words.isEmpty { return OutputFilter.completions(partial: "") }
            if words.count == 1, !endsInBlank { return OutputFilter.completions(partial: words[0]) }
            return []
        }
        let live: LiveValueSource = { [backend] slot in backend.liveValues(for: slot) }
        let modes = configuration.map { $0.frames.reversed().map(\.mode) } ?? [.exec]
        var firstError: CommandError?
        for mode in modes {
            do {
                let entries = try registry.completions(line: line, mode: mode, liveValues: live)
                if !entries.isEmpty { return entries }
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        return []
    }

    /// Whether `line` is an exec command line (where '|' starts a filter).
    private func isExecLine(_ line: String) -> Bool {
        configuration == nil || Self.words(line).first?.lowercased() == "do"
    }

    /// The words of a line (split at blanks).
    private static func words(_ line: String) -> [String] {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// SOH complete: the words TAB may insert, one per line.
    func complete(_ line: String) -> ShellResponse {
        guard let entries = try? completions(line) else { return .error("") }
        let words = entries.filter { $0.kind == .keyword || $0.kind == .value }.map(\.word)
        return .ok(words.map { $0 + "\n" }.joined())
    }

    /// SOH help: what `?` prints.
    func help(_ line: String) -> ShellResponse {
        do {
            return .ok(CommandRegistry.helpText(try completions(line)) + "\n")
        } catch {
            return .error(error.rendered(line: line, prompt: prompt) + "\n")
        }
    }
}
