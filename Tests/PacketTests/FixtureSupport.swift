import Foundation
import Testing

/// Loads a scapy-made fixture (see Fixtures/make-fixtures.py) as bytes.
func fixture(_ name: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: "hex", subdirectory: "Fixtures"))
    let text = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    return try bytes(hex: text)
}

func bytes(hex: String) throws -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next() {
        let next = it.next()
        let b = try #require(next)
        out.append(try #require(UInt8(String([a, b]), radix: 16)))
    }
    return out
}

/// Runs `body` over a mutable copy of `bytes`.
func withPacket<R>(_ bytes: [UInt8], _ body: (UnsafeMutableRawPointer, Int) throws -> R) rethrows -> R {
    var copy = bytes
    return try copy.withUnsafeMutableBytes { try body($0.baseAddress!, $0.count) }
}
