// The wire format between egsh and the daemon on the UNIX socket: one
// request per line from the client; for each, a header line
// "<status> <byte count>\n" and then exactly that many bytes of output.
// Status 0 is success, 1 an error (the output then says what went wrong),
// 2 the session ended (`exit` in exec mode).
//
// A plain line is a command, run in the connection's current mode, so
// `egsh -c "show ..."` and scripts on standard input need nothing else. The
// interactive client also sends queries, marked by a leading SOH (0x01)
// character that no typed command contains:
//   SOH "prompt"              -> the prompt of the current mode ("egress-a(config)#")
//   SOH "complete " LINE      -> the words TAB may insert after LINE, one per line
//   SOH "help " LINE          -> what `?` prints after LINE
//   SOH "interactive"         -> errors get a caret under the echoed line (no echo)

/// How a request ended.
public enum ShellStatus: Int, Sendable {
    case ok = 0
    case error = 1
    /// `exit` in exec mode: the client should stop.
    case closed = 2
}

/// The answer to one request.
public struct ShellResponse: Equatable, Sendable {
    public var status: ShellStatus
    public var output: String

    public init(_ status: ShellStatus, _ output: String) {
        self.status = status
        self.output = output
    }

    /// A successful answer.
    public static func ok(_ output: String) -> ShellResponse { ShellResponse(.ok, output) }
    /// A failed answer; `output` says why.
    public static func error(_ output: String) -> ShellResponse { ShellResponse(.error, output) }
}

/// One request from the client.
public enum ShellRequest: Equatable, Sendable {
    /// A command line, run in the session's current mode.
    case line(String)
    /// The prompt of the current mode.
    case prompt
    /// Words TAB may insert after the (partial) line.
    case complete(String)
    /// `?` after the line.
    case help(String)
    /// The client echoes lines itself: errors show only the caret.
    case interactive
}

public enum ShellProtocol {
    public static let defaultSocketPath = "/run/egressd/egressd.sock"
    /// Marks a query (not a command line).
    static let queryMark: Character = "\u{1}"

    /// The request as one line (without the newline).
    public static func encodeRequest(_ request: ShellRequest) -> String {
        switch request {
        case .line(let line): line
        case .prompt: "\(queryMark)prompt"
        case .complete(let line): "\(queryMark)complete \(line)"
        case .help(let line): "\(queryMark)help \(line)"
        case .interactive: "\(queryMark)interactive"
        }
    }

    /// Reads a received line (newline removed). Query lines keep their
    /// trailing blanks: "show " completes differently from "show".
    public static func parseRequest(_ raw: String) -> ShellRequest {
        var text = Substring(raw)
        if text.last == "\r" { text.removeLast() }
        guard text.first == queryMark else { return .line(String(text).trimmedLine()) }
        text.removeFirst()
        if text == "prompt" { return .prompt }
        if text == "interactive" { return .interactive }
        if text.hasPrefix("complete ") { return .complete(String(text.dropFirst("complete ".count))) }
        if text.hasPrefix("help ") { return .help(String(text.dropFirst("help ".count))) }
        // An unknown query is not a command either: make it fail visibly.
        return .line(String(raw.dropFirst()))
    }

    /// The framed response.
    public static func encodeResponse(_ response: ShellResponse) -> [UInt8] {
        let body = Array(response.output.utf8)
        return Array("\(response.status.rawValue) \(body.count)\n".utf8) + body
    }

    /// The framed response of a plain success or failure.
    public static func encodeResponse(ok: Bool, output: String) -> [UInt8] {
        encodeResponse(ShellResponse(ok ? .ok : .error, output))
    }

    /// Parses a response header line ("0 123"); an unknown status is an error.
    public static func parseHeader(_ line: String) -> (status: ShellStatus, length: Int)? {
        let parts = line.split(separator: " ")
        guard parts.count == 2, let code = Int(parts[0]), let length = Int(parts[1]), length >= 0 else { return nil }
        return (ShellStatus(rawValue: code) ?? .error, length)
    }
}
