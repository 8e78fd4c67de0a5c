// The recent log records, for `show logging`: a LogHandler that keeps the
// last `capacity` records (level, label, message and the structured
// metadata) in a bounded ring, beside the stderr handler that journald reads.

import Logging
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// One log record as `show logging` prints it.
public struct LogRecord: Sendable, Equatable {
    /// Wall-clock time, seconds since 1970 (UTC), with microseconds.
    public var time: Double
    public var level: Logger.Level
    public var label: String
    public var message: String
    /// Structured fields, sorted by key.
    public var fields: [(String, String)]

    public static func == (a: LogRecord, b: LogRecord) -> Bool {
        a.time == b.time && a.level == b.level && a.label == b.label && a.message == b.message
            && a.fields.map(\.0) == b.fields.map(\.0) && a.fields.map(\.1) == b.fields.map(\.1)
    }

    /// "2026-11-24T01:02:03.123456Z info egressd: message key=value ...".
    public var line: String {
        var s = LogRecord.iso8601(time) + " " + level.rawValue + " " + label + ": " + message
        for (k, v) in fields { s += " " + k + "=" + (v.contains(" ") || v.isEmpty ? "\"\(v)\"" : v) }
        return s
    }

    /// UTC time in ISO 8601 with microseconds (civil-from-days, no Foundation).
    public static func iso8601(_ t: Double) -> String {
        let secs = Int64(t.rounded(.down))
        let micros = Int64(((t - Double(secs)) * 1_000_000).rounded(.down))
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        // Howard Hinnant's days -> civil date.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var us = String(micros)
        while us.count < 6 { us = "0" + us }
        return "\(y)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60)).\(us)Z"
    }
}

/// A bounded ring of log records, shared by every RingLogHandler of a process.
public final class LogRing: @unchecked Sendable {
    public let capacity: Int
    private var records: [LogRecord] = []
    private var next = 0
    private var overwrittenCount: UInt64 = 0
    private let lock = NIOLock()

    /// The process's ring (egressd bootstraps its handlers with it).
    public static let shared = LogRing(capacity: 1000)

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        records.reserveCapacity(capacity)
    }

    public func append(_ r: LogRecord) {
        lock.lock()
        defer { lock.unlock() }
        if records.count < capacity {
            records.append(r)
        } else {
            records[next] = r
            overwrittenCount += 1
        }
        next = (next + 1) % capacity
    }

    /// Records pushed out of the ring by newer ones (the ring's drops).
    public var overwritten: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return overwrittenCount
    }

    /// The records, oldest first (at most `capacity`).
    public func recent() -> [LogRecord] {
        lock.lock()
        defer { lock.unlock() }
        if records.count < capacity { return records }
        return Array(records[next...] + records[..<next])
    }
}

/// A swift-log handler that records into a LogRing. Combine with the stderr
/// handler through MultiplexLogHandler.
public struct RingLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public let label: String
    let ring: LogRing
    let clock: @Sendable () -> Double

    public init(label: String, ring: LogRing = .shared, level: Logger.Level = .info,
                clock: @escaping @Sendable () -> Double = RingLogHandler.wallClock) {
        self.label = label
        self.ring = ring
        self.logLevel = level
        self.clock = clock
    }

    public static let wallClock: @Sendable () -> Double = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let fields = all.map { ($0.key, "\($0.value)") }.sorted { $0.0 < $1.0 }
        ring.append(LogRecord(time: clock(), level: event.level, label: label, message: "\(event.message)", fields: fields))
    }
}
