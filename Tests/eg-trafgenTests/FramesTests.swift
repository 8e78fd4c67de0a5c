import Testing
@testable import eg_trafgen

private func spec(length: Int = 64, flows: Int = 4, gre: GREOuter? = nil) -> FrameSpec {
    FrameSpec(sourceMAC: MACAddress("02:00:00:00:00:01")!, destinationMAC: MACAddress("02:00:00:00:00:02")!,
              innerSource: IPv4Bytes("10.1.0.10")!, innerDestination: IPv4Bytes("10.98.0.99")!,
              innerLength: length, flows: flows, firstSourcePort: 10000, destinationPort: 9, gre: gre)
}

@Test func parsesAddresses() {
    #expect(MACAddress("0a:1B:ff:00:00:09")?.description == "0a:1b:ff:00:00:09")
    #expect(MACAddress("0a:1b:ff:00:00") == nil)
    #expect(MACAddress("0a:1b:ff:00:00:xyz") == nil)
    #expect(IPv4Bytes("10.0.1.1")?.bytes == [10, 0, 1, 1])
    #expect(IPv4Bytes("10.0.1.256") == nil)
    #expect(IPv4Bytes("10.0.1") == nil)
}

@Test func checksumMatchesRFC1071Example() {
    // RFC 1071 section 3 example: the sum of 0001 f203 f4f5 f6f7 is 0xddf2; checksum ~ = 0x220d.
    #expect(internetChecksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0..<8) == 0x220d)
}

@Test func plainFramesHaveOneFlowPerSourcePort() throws {
    let frames = try buildFrames(spec())
    #expect(frames.count == 4)
    for (flow, frame) in frames.enumerated() {
        #expect(frame.count == 14 + 64)
        #expect(Array(frame[0..<6]) == [2, 0, 0, 0, 0, 2])
        #expect(Array(frame[12..<14]) == [0x08, 0x00])
        #expect(frame[14] == 0x45 && frame[23] == 17)
        #expect(Int(frame[16]) << 8 | Int(frame[17]) == 64)
        #expect(internetChecksum(frame, 14..<34) == 0)  // a valid header sums to zero
        #expect(Int(frame[34]) << 8 | Int(frame[35]) == 10000 + flow)
        #expect(Int(frame[38]) << 8 | Int(frame[39]) == 64 - 20)
    }
}

@Test func greFramesWrapTheSameInnerPacket() throws {
    let outer = GREOuter(source: IPv4Bytes("10.0.1.1")!, destination: IPv4Bytes("10.0.1.2")!)
    let plain = try buildFrames(spec(length: 1400, flows: 1))[0]
    let wrapped = try buildFrames(spec(length: 1400, flows: 1, gre: outer))[0]
    #expect(wrapped.count == 14 + 20 + 4 + 1400)
    #expect(wrapped[23] == 47)
    #expect(Int(wrapped[16]) << 8 | Int(wrapped[17]) == 1424)
    #expect(Array(wrapped[26..<34]) == [10, 0, 1, 1, 10, 0, 1, 2])
    #expect(internetChecksum(wrapped, 14..<34) == 0)
    #expect(Array(wrapped[34..<38]) == [0, 0, 0x08, 0x00])
    #expect(Array(wrapped[38...]) == Array(plain[14...]))
}

@Test func rejectsImpossibleSpecs() {
    #expect(throws: FrameSpecError.innerLengthOutOfRange(27)) { try buildFrames(spec(length: 27)) }
    #expect(throws: FrameSpecError.flowCountOutOfRange(0)) { try buildFrames(spec(flows: 0)) }
    #expect(throws: FrameSpecError.flowCountOutOfRange(60000)) { try buildFrames(spec(flows: 60000)) }
}

@Test func pcapHasHeaderAndRecords() throws {
    let frames = try buildFrames(spec(flows: 2))
    let file = pcapFile(frames: frames)
    #expect(file.count == 24 + 2 * (16 + 78))
    #expect(Array(file[0..<4]) == [0xd4, 0xc3, 0xb2, 0xa1])
    #expect(Array(file[20..<24]) == [1, 0, 0, 0])
}

/// The message a command line is refused with (nil: accepted).
private func refusal(_ arguments: [String]) -> String? {
    do { _ = try Options.parse(arguments); return nil } catch { return Options.message(for: error) }
}

@Test func parsesOptions() throws {
    let options = try Options.parse(["--interface", "s0", "--dst-mac", "02:00:00:00:00:02", "--src", "10.1.0.10",
                                     "--dst", "10.98.0.99", "--size", "1400", "--pps", "1000", "--gre-src", "1.1.1.1",
                                     "--gre-dst", "2.2.2.2", "--sport", "2000", "--batch", "8", "--timestamps"])
    #expect(options.innerLength == 1400 && options.packetsPerSecond == 1000 && options.greSource != nil)
    #expect(options.destinationMAC == MACAddress("02:00:00:00:00:02") && options.innerDestination == IPv4Bytes("10.98.0.99"))
    #expect(options.firstSourcePort == 2000 && options.destinationPort == 9 && options.batch == 8 && options.timestamps)
    #expect(options.flows == 256 && options.duration == 5 && options.sourceMAC == nil && options.pcapPath == nil)
    #expect(refusal(["--interface", "s0"])?.contains("--dst-mac is required") == true)
    #expect(refusal(["--interface", "s0", "--dst-mac", "02:00:00:00:00:02", "--src", "10.1.0.10",
                     "--dst", "10.98.0.99", "--gre-src", "1.1.1.1"])?.contains("--gre-src and --gre-dst go together") == true)
    #expect(refusal(["--interface", "s0", "--dst-mac", "02:00:00:00:00", "--src", "10.1.0.10", "--dst", "10.98.0.99"]) != nil)
    #expect(refusal(["--interface", "s0", "--dst-mac", "02:00:00:00:00:02", "--src", "10.1.0.10", "--dst", "10.98.0.99",
                     "--batch", "0"])?.contains("--batch") == true)
    #expect(refusal(["--interface", "s0", "--dst-mac", "02:00:00:00:00:02", "--src", "10.1.0.10", "--dst", "10.98.0.99",
                     "--sport", "70000"]) != nil)
}

@Test func latencyStampGoesAtTheStartOfTheUDPPayload() throws {
    let outer = GREOuter(source: IPv4Bytes("10.0.1.1")!, destination: IPv4Bytes("10.0.1.2")!)
    #expect(LatencyStamp.offset(in: spec()) == 42)
    #expect(LatencyStamp.offset(in: spec(gre: outer)) == 66)
    var frame = try buildFrames(spec(gre: outer))[0]
    frame.withUnsafeMutableBytes { LatencyStamp.write(0x0102_0304_0506_0708, at: $0.baseAddress! + 66) }
    #expect(Array(frame[66..<74]) == Array("EGLATNCY".utf8))
    #expect(Array(frame[74..<82]) == [1, 2, 3, 4, 5, 6, 7, 8])
    #expect(internetChecksum(frame, 38..<58) == 0)  // the inner header is untouched
    #expect(refusal(["--interface", "s0", "--dst-mac", "02:00:00:00:00:02", "--src", "10.1.0.10",
                     "--dst", "10.98.0.99", "--size", "40", "--timestamps"])?.contains("--timestamps needs --size") == true)
}
