// Splits a TCP byte stream, arriving in chunks of any size, into whole BGP
// messages. The header is validated as soon as it is complete, so a bad
// marker or length is reported without waiting for a body that may never come.

import Packet

/// Accumulates stream bytes and yields whole message frames.
public struct BGPFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init() {}

    /// Bytes received but not yet returned as a frame.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        // Compact once the consumed prefix dominates, keeping appends amortized O(1).
        if readIndex > 0, readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole message (header included), nil if more bytes are needed.
    /// Throws the header NOTIFICATION (1/1, 1/2) on a corrupt stream; the
    /// stream cannot be resynchronized after that.
    public mutating func nextFrame() throws(BGPNotification) -> ArraySlice<UInt8>? {
        guard bufferedByteCount >= BGPMessage.headerLength else { return nil }
        let length = try BGPMessage.checkHeader(buffer[readIndex..<readIndex + BGPMessage.headerLength])
        guard bufferedByteCount >= length else { return nil }
        let frame = buffer[readIndex..<readIndex + length]
        readIndex += length
        return frame
    }
}
