// A built-in `--More--` pager, as vtysh and IOS have: output longer than the
// terminal stops after each screen; SPACE shows the next screen, RETURN the
// next line, q the prompt again.

import CEdit
#if canImport(Glibc)
import Glibc
#endif

struct Pager {
    /// Page only when both ends are a terminal (keys come from stdin).
    let enabled: Bool

    func show(_ text: String) {
        let rows = Int(egsh_window_rows(1))
        guard enabled, rows > 2 else { return writeOutput(text) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0 + "\n" }
        if lines.last == "\n" { lines.removeLast() }
        guard lines.count >= rows else { return writeOutput(text) }
        var next = 0
        var budget = rows - 1
        while next < lines.count {
            let end = min(lines.count, next + budget)
            writeOutput(lines[next..<end].joined())
            next = end
            guard next < lines.count else { break }
            writeOutput("\u{1B}[7m--More--\u{1B}[0m")
            let key = readKey()
            writeOutput("\r        \r")
            switch key {
            case UInt8(ascii: " "): budget = rows - 1
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"): budget = 1
            default: return  // q, ^C, anything else: stop
            }
        }
    }

    /// One key from the terminal without echo or line buffering.
    private func readKey() -> UInt8 {
        var saved = termios()
        guard tcgetattr(0, &saved) == 0 else { return UInt8(ascii: "q") }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
        raw.c_cc.6 = 1  // VMIN
        raw.c_cc.5 = 0  // VTIME
        tcsetattr(0, TCSANOW, &raw)
        defer { tcsetattr(0, TCSANOW, &saved) }
        var key: UInt8 = 0
        return read(0, &key, 1) == 1 ? key : UInt8(ascii: "q")
    }
}
