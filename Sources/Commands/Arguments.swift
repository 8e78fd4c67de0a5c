import Packet

// What a matched line carries to a command's action: the typed arguments by
// name (with the column each came from, so an action's complaint can point at
// the right word) and the keywords that were typed (for optional flags such as
// `json`).

/// The arguments and keywords of a matched command line.
public struct Arguments: Sendable, Equatable {
    /// One argument as typed.
    public struct Entry: Sendable, Equatable {
        public var value: ArgumentValue
        /// The word as typed (for LINE: the rest of the line).
        public var text: String
        /// 1-based column of the word in the line.
        public var column: Int
    }

    /// Arguments by the name given in the command's declaration.
    public var entries: [String: Entry] = [:]
    /// Full keywords matched along the path (abbreviations expanded).
    public var keywords: Set<String> = []

    public init() {}

    /// Whether the keyword `word` was part of the line (optional flags).
    public func has(_ word: String) -> Bool { keywords.contains(word) }

    /// Whether an argument named `name` was typed (optional arguments).
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The 1-based column of argument `name`, for error messages.
    public func column(of name: String) -> Int? { entries[name]?.column }

    private func value(_ name: String) throws(CommandFailure) -> ArgumentValue {
        guard let e = entries[name] else { throw CommandFailure("internal error: the command has no argument '\(name)'") }
        return e.value
    }

    private func mismatch(_ name: String) -> CommandFailure {
        CommandFailure("internal error: argument '\(name)' has another type", argument: name)
    }

    /// A word, interface name or LINE argument.
    public func string(_ name: String) throws(CommandFailure) -> String {
        guard case .word(let s) = try value(name) else { throw mismatch(name) }
        return s
    }

    /// A number (range or AS number) argument.
    public func number(_ name: String) throws(CommandFailure) -> UInt64 {
        guard case .number(let n) = try value(name) else { throw mismatch(name) }
        return n
    }

    /// An A.B.C.D argument.
    public func ipv4Address(_ name: String) throws(CommandFailure) -> IPv4Address {
        guard case .ipv4Address(let a) = try value(name) else { throw mismatch(name) }
        return a
    }

    /// An X:X::X:X argument.
    public func ipv6Address(_ name: String) throws(CommandFailure) -> IPv6Address {
        guard case .ipv6Address(let a) = try value(name) else { throw mismatch(name) }
        return a
    }

    /// An A.B.C.D/M argument, host bits kept.
    public func ipv4Prefix(_ name: String) throws(CommandFailure) -> IPv4InterfaceAddress {
        guard case .ipv4Prefix(let p) = try value(name) else { throw mismatch(name) }
        return p
    }

    /// An X:X::X:X/M argument, host bits kept.
    public func ipv6Prefix(_ name: String) throws(CommandFailure) -> IPv6InterfaceAddress {
        guard case .ipv6Prefix(let p) = try value(name) else { throw mismatch(name) }
        return p
    }

    /// An argument that is an address of either family.
    public func ipAddress(_ name: String) throws(CommandFailure) -> IPAddress {
        switch try value(name) {
        case .ipv4Address(let a): return .v4(a)
        case .ipv6Address(let a): return .v6(a)
        default: throw mismatch(name)
        }
    }
}
