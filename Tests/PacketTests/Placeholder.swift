import Testing
@testable import Packet

@Test func packetBuilds() {}
