// Structured fields for the state-change events the BGP speaker and the
// WCCP router report as text (their sinks take a line): the subsystem, the
// peer/service/cache the event is about, and the state it moved to, so that
// journald and `show logging json` can filter on them.

import Logging

public enum EventFields {
    /// Fields of a BGP speaker event ("neighbor A Idle -> Connect", "neighbor A Established (...)",
    /// "neighbor A down: why", "neighbor A removed").
    public static func bgp(_ event: String) -> Logger.Metadata {
        var m: Logger.Metadata = ["subsystem": "bgp"]
        let words = event.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard words.count >= 2, words[0] == "neighbor" else { return m }
        let peer = words[1].hasSuffix(":") ? String(words[1].dropLast()) : words[1]
        m["peer"] = .string(peer)
        if words.count >= 5, words[3] == "->" {
            m["from"] = .string(words[2])
            m["state"] = .string(words[4])
        } else if words.count >= 3 {
            switch words[2] {
            case "Established": m["state"] = "Established"
            case "down:": m["state"] = "down"
            case "removed": m["state"] = "removed"
            default: break
            }
        }
        return m
    }

    /// Fields of a WCCP router event ("service 0 cache 10.0.3.11 usable: why",
    /// "service 0 assignment changed: 2 cache(s)", "listening on A:2048, ...").
    public static func wccp(_ event: String) -> Logger.Metadata {
        var m: Logger.Metadata = ["subsystem": "wccp"]
        let words = event.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard words.count >= 3, words[0] == "service" else { return m }
        m["service"] = .string(words[1])
        if words[2] == "cache", words.count >= 5 {
            m["cache"] = .string(words[3])
            m["state"] = .string(words[4].hasSuffix(":") ? String(words[4].dropLast()) : words[4])
        } else if words[2] == "assignment", words.count >= 5, let n = Int(words[4]) {
            m["assignment"] = "changed"
            m["caches"] = .string(String(n))
        }
        return m
    }
}
