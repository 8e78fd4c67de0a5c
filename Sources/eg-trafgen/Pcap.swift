// A classic pcap file (Ethernet link type) of the frames, so that a run's traffic can be
// checked with tshark before it is sent.

/// The bytes of a pcap file holding `frames`, all stamped with time 0.
func pcapFile(frames: [[UInt8]]) -> [UInt8] {
    var file: [UInt8] = []
    func appendLE32(_ value: UInt32) {
        file += [UInt8(value & 0xff), UInt8((value >> 8) & 0xff), UInt8((value >> 16) & 0xff), UInt8(value >> 24)]
    }
    func appendLE16(_ value: UInt16) { file += [UInt8(value & 0xff), UInt8(value >> 8)] }
    appendLE32(0xa1b2_c3d4)  // magic, microsecond timestamps
    appendLE16(2); appendLE16(4)  // version 2.4
    appendLE32(0); appendLE32(0)  // time zone, accuracy
    appendLE32(65535)  // snap length
    appendLE32(1)  // LINKTYPE_ETHERNET
    for frame in frames {
        appendLE32(0); appendLE32(0)
        appendLE32(UInt32(frame.count)); appendLE32(UInt32(frame.count))
        file += frame
    }
    return file
}
