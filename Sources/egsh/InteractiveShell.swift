// The interactive shell on a terminal: libedit for line editing and
// history (kept across runs in the history file), TAB and `?` bound to
// functions that ask the daemon, and the prompt of the session's mode.
// IOS behaviour: `?` is never inserted; it lists the possible next words
// with their help, then the line is shown again as it was.

import CEdit
import Control
#if canImport(Glibc)
import Glibc
#endif

/// The shell whose connection libedit's key functions use. libedit calls
/// plain C functions, so the running shell is reached through this global
/// (one shell per process, used from the main thread only).
nonisolated(unsafe) private var current: InteractiveShell?
/// The prompt libedit shows, as a C string owned here.
nonisolated(unsafe) private var promptBuffer: UnsafeMutablePointer<CChar>? = strdup("egressd# ")

final class InteractiveShell {
    let connection: ShellConnection
    let pager: Pager
    let historyFile: String?
    private let editor: OpaquePointer
    private let history: OpaquePointer
    private var event = HistEvent()

    init(connection: ShellConnection, pager: Pager, historyFile: String?) throws {
        self.connection = connection
        self.pager = pager
        self.historyFile = historyFile
        guard let input = fdopen(0, "r"), let output = fdopen(1, "w"), let errors = fdopen(2, "w"),
              let editor = el_init("egsh", input, output, errors) else {
            throw ShellError("cannot initialise line editing on this terminal")
        }
        guard let history = history_init() else {
            el_end(editor)
            throw ShellError("cannot initialise the command history")
        }
        self.editor = editor
        self.history = history
        egsh_history_set_size(history, &event, 1000)
        egsh_history_set_unique(history, &event, 1)
        if let historyFile { egsh_history_load(history, &event, historyFile) }
        egsh_el_set_editor(editor, "emacs")
        egsh_el_set_signal(editor, 1)
        egsh_el_set_history(editor, history)
        egsh_el_set_prompt(editor, { _ in promptBuffer })
        egsh_el_add_function(editor, "egsh-complete", "Complete the word (asks egressd)", { el, _ in
            guard let el, let shell = current else { return UInt8(CC_ERROR) }
            return shell.complete(el)
        })
        egsh_el_add_function(editor, "egsh-help", "List the possible next words", { el, _ in
            guard let el, let shell = current else { return UInt8(CC_ERROR) }
            return shell.help(el)
        })
        egsh_el_bind(editor, "^I", "egsh-complete")
        egsh_el_bind(editor, "?", "egsh-help")
        // ~/.editrc may rebind keys (vi mode and so on).
        el_source(editor, nil)
    }

    deinit {
        el_end(editor)
        history_end(history)
    }

    /// Reads and runs lines until `exit` in exec mode or end of input (^D).
    func run() throws {
        current = self
        defer { current = nil }
        _ = try connection.request(.interactive)
        while true {
            let prompt = try connection.request(.prompt).output
            free(promptBuffer)
            promptBuffer = strdup(prompt + " ")
            var count: Int32 = 0
            guard let raw = el_gets(editor, &count) else {
                writeOutput("\n")
                return
            }
            let line = String(cString: raw).trimmedLine()
            if line.isEmpty { continue }
            egsh_history_enter(history, &event, line)
            // Saved at once: the history survives a killed shell too.
            if let historyFile { egsh_history_save(history, &event, historyFile) }
            let response = try connection.request(.line(line))
            pager.show(response.output)
            if response.status == .closed { return }
        }
    }

    /// The text before the cursor.
    private func lineBeforeCursor(_ el: OpaquePointer) -> String {
        guard let info = el_line(el)?.pointee else { return "" }
        let length = info.cursor - info.buffer
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(info.buffer), count: max(0, length))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// TAB: insert what the daemon's candidates determine, or list them.
    fileprivate func complete(_ el: OpaquePointer) -> UInt8 {
        let line = lineBeforeCursor(el)
        guard let response = try? connection.request(.complete(line)), response.status == .ok else {
            return UInt8(CC_REFRESH_BEEP)
        }
        let candidates = response.output.split(separator: "\n").map(String.init)
        switch TabCompletion.action(line: line, candidates: candidates) {
        case .insert(let text):
            el_insertstr(el, text)
            return UInt8(CC_REFRESH)
        case .list(let words):
            writeRaw("\n" + words.joined(separator: "  ") + "\n")
            return UInt8(CC_REDISPLAY)
        case .help:
            return help(el)
        }
    }

    /// `?`: the possible next words with their help; the line stays.
    fileprivate func help(_ el: OpaquePointer) -> UInt8 {
        let line = lineBeforeCursor(el)
        guard let response = try? connection.request(.help(line)) else { return UInt8(CC_REFRESH_BEEP) }
        writeRaw("?\n" + response.output)
        return UInt8(CC_REDISPLAY)
    }

    /// Output while libedit has the terminal in raw mode, where a newline
    /// does not return the carriage by itself.
    private func writeRaw(_ text: String) {
        writeOutput(text.replacingNewlines())
    }
}

extension String {
    /// "\n" as "\r\n".
    fileprivate func replacingNewlines() -> String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
    }
}
