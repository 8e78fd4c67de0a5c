import CMNL
import Glibc
import Packet
import Testing
@testable import Netlink

// Pure tests of the request encoders and reply decoders: bytes in, values out, no socket.

/// Little-endian (host order on x86_64, as netlink uses) helpers to spell expected bytes.
private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
private func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
    var bytes = le16(UInt16(4 + payload.count)) + le16(type) + payload
    while bytes.count % 4 != 0 { bytes.append(0) }
    return bytes
}

private func v4(_ text: String) -> IPAddress { IPAddress(text)! }
private func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }

/// Decodes a request's own body as if the kernel had sent it back (same layout).
private func decodeRequest(_ bytes: [UInt8]) -> DecodedRoute? {
    bytes.withUnsafeBytes { RouteMessage.decode(UnsafeRawBufferPointer(rebasing: $0[16...])) }
}

@Suite struct RouteEncodingTests {
    let multipath = KernelRoute(
        prefix: IPPrefix("10.1.0.0/16")!,
        nextHops: [KernelNextHop(gateway: IPAddress("10.0.1.2"), interfaceIndex: 3),
                   KernelNextHop(gateway: IPAddress("10.0.2.2"), interfaceIndex: 4, weight: 3)],
        metric: 20)

    @Test func multipathRouteBytes() throws {
        let bytes = try RouteMessage.request(multipath, type: MessageType.newRoute,
                                             flags: NLMFlag.request | NLMFlag.ack | NLMFlag.create | NLMFlag.replace,
                                             sequence: 7)
        let hop1 = le16(16) + [0, 0] + le32(3) + attribute(5, [10, 0, 1, 2])  // rtnexthop + RTA_GATEWAY
        let hop2 = le16(16) + [0, 2] + le32(4) + attribute(5, [10, 0, 2, 2])  // weight 3 = rtnh_hops 2
        let body: [UInt8] =
            [2, 16, 0, 0, 254, 218, 0, 1] + le32(0)     // rtmsg: AF_INET /16 main egressd universe unicast
            + attribute(15, le32(254))                     // RTA_TABLE
            + attribute(1, [10, 1, 0, 0])                  // RTA_DST
            + attribute(6, le32(20))                       // RTA_PRIORITY
            + attribute(9, hop1 + hop2)                    // RTA_MULTIPATH
        let header = le32(UInt32(16 + body.count)) + le16(24) + le16(0x505) + le32(7) + le32(0)
        #expect(bytes == header + body)
        #expect(bytes.count == 88)
    }

    @Test func multipathRoundTrip() throws {
        let bytes = try RouteMessage.request(multipath, type: MessageType.newRoute, flags: 0, sequence: 1)
        let decoded = try #require(decodeRequest(bytes))
        #expect(decoded.route == multipath)
    }

    @Test func singleHopAndDeviceRoutes() throws {
        let v6 = KernelRoute(prefix: prefix("fd01::/64"),
                             nextHops: [KernelNextHop(gateway: IPAddress("fd00:1::2"), interfaceIndex: 9)],
                             metric: 1024, table: 1000)
        let bytes = try RouteMessage.request(v6, type: MessageType.newRoute, flags: 0, sequence: 1)
        #expect(bytes[16] == 10)                 // AF_INET6
        #expect(bytes[16 + 4] == 252)            // rtm_table: RT_TABLE_COMPAT, RTA_TABLE says 1000
        #expect(decodeRequest(bytes)?.route == v6)

        // A route onto an interface without a gateway (a TUN) has link scope.
        let device = KernelRoute(prefix: prefix("10.2.0.0/16"), nextHops: [KernelNextHop(interfaceIndex: 5)])
        let deviceBytes = try RouteMessage.request(device, type: MessageType.newRoute, flags: 0, sequence: 1)
        #expect(deviceBytes[16 + 6] == RouteAttribute.scopeLink)
        let decoded = try #require(decodeRequest(deviceBytes))
        #expect(decoded.route == device)
        #expect(decoded.scope == RouteAttribute.scopeLink)
    }

    @Test func ipv6GatewayOfIPv4RouteUsesVia() throws {
        let route = KernelRoute(prefix: prefix("0.0.0.0/0"),
                                nextHops: [KernelNextHop(gateway: IPAddress("fe80::1"), interfaceIndex: 2)])
        let bytes = try RouteMessage.request(route, type: MessageType.newRoute, flags: 0, sequence: 1)
        let via = attribute(18, [10, 0] + IPv6Address("fe80::1")!.bytes)
        #expect(bytes.count >= via.count)
        #expect(Array(bytes[(bytes.count - 8 - via.count)..<(bytes.count - 8)]) == via)  // RTA_VIA, then RTA_OIF
        #expect(decodeRequest(bytes)?.route == route)
    }

    @Test func blackholeAndDelete() throws {
        let route = KernelRoute(prefix: prefix("10.9.0.0/16"), type: .blackhole)
        let bytes = try RouteMessage.request(route, type: MessageType.newRoute, flags: 0, sequence: 1)
        #expect(bytes[16 + 7] == 6)
        #expect(decodeRequest(bytes)?.route == route)
        let delete = try RouteMessage.request(route, type: MessageType.deleteRoute, flags: 0, sequence: 1)
        #expect(delete[4] == 25)                                  // RTM_DELROUTE
        #expect(delete[16 + 6] == RouteAttribute.scopeNowhere)    // any scope
        #expect(delete[16 + 5] == RouteProtocol.egressd)          // only our own route matches
    }

    @Test func invalidRoutesAreRejectedWithReasons() {
        let noHop = KernelRoute(prefix: prefix("10.1.0.0/16"))
        #expect(throws: NetlinkError(operation: "RTM_NEWROUTE 10.1.0.0/16", errno: EINVAL,
                                     detail: "a unicast route needs a next hop")) {
            try RouteMessage.request(noHop, type: MessageType.newRoute, flags: 0, sequence: 1)
        }
        let zeroWeight = KernelRoute(prefix: prefix("10.1.0.0/16"),
                                     nextHops: [KernelNextHop(interfaceIndex: 1, weight: 0), KernelNextHop(interfaceIndex: 2)])
        #expect(throws: NetlinkError.self) {
            try RouteMessage.request(zeroWeight, type: MessageType.newRoute, flags: 0, sequence: 1)
        }
        let mixed = KernelRoute(prefix: prefix("fd00::/8"), nextHops: [KernelNextHop(gateway: v4("10.0.0.1"))])
        do {
            _ = try RouteMessage.request(mixed, type: MessageType.newRoute, flags: 0, sequence: 1)
            Issue.record("an IPv6 route with an IPv4 gateway was accepted")
        } catch {
            #expect(error.description == "RTM_NEWROUTE fd00::/8: Invalid argument (EINVAL): an IPv6 route cannot have an IPv4 gateway")
        }
        let blackholeWithHop = KernelRoute(prefix: prefix("10.0.0.0/8"), nextHops: [KernelNextHop(interfaceIndex: 1)], type: .blackhole)
        #expect(throws: NetlinkError.self) {
            try RouteMessage.request(blackholeWithHop, type: MessageType.newRoute, flags: 0, sequence: 1)
        }
    }

    @Test func tooManyNextHopsOverflowInsteadOfWritingPastTheBuffer() {
        let hops = (0..<600).map { KernelNextHop(gateway: IPAddress("fd00::\($0 + 1)"), interfaceIndex: 1) }
        let route = KernelRoute(prefix: prefix("fd01::/64"), nextHops: hops)
        #expect(throws: NetlinkError.self) {
            try RouteMessage.request(route, type: MessageType.newRoute, flags: 0, sequence: 1)
        }
    }

    @Test func lookupRequest() throws {
        let bytes = try MessageWriter.encode(type: MessageType.getRoute, flags: NLMFlag.request, sequence: 1) { w in
            RouteMessage.writeLookup(v4("192.0.2.9"), into: &w)
        }
        #expect(Array(bytes[16..<18]) == [2, 32])
        #expect(Array(bytes[28...]) == attribute(1, [192, 0, 2, 9]))
    }
}

@Suite struct AckAndMessageTests {
    /// An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK.
    func errorAck(code: Int32, sequence: UInt32, text: String?) -> [UInt8] {
        let echoed = le32(60) + le16(24) + le16(0x505) + le32(sequence) + le32(0)
        var payload = le32(UInt32(bitPattern: code)) + echoed
        var flags = NLMFlag.capped
        if let text {
            payload += attribute(1, Array(text.utf8) + [0])
            flags |= NLMFlag.ackTLVs
        }
        return le32(UInt32(16 + payload.count)) + le16(2) + le16(flags) + le32(sequence) + le32(1234) + payload
    }

    func messages(_ bytes: [UInt8]) -> [(type: UInt16, sequence: UInt32, error: NetlinkError?)] {
        var out: [(UInt16, UInt32, NetlinkError?)] = []
        bytes.withUnsafeBytes { raw in
            forEachMessage(in: raw) { m in
                out.append((m.type, m.sequence, m.type == MessageType.error
                            ? NetlinkSocket.ackError(m, operation: "RTM_NEWROUTE 10.1.0.0/16") : nil))
            }
        }
        return out
    }

    @Test func positiveAndNegativeAcks() throws {
        let datagram = errorAck(code: 0, sequence: 5, text: nil)
            + errorAck(code: -EEXIST, sequence: 6, text: "Route exists")
        let parsed = messages(datagram)
        #expect(parsed.count == 2)
        #expect(parsed[0].sequence == 5 && parsed[0].error == nil)
        let error = try #require(parsed[1].error)
        #expect(error.errno == EEXIST && error.isAlreadyExists)
        #expect(error.description == "RTM_NEWROUTE 10.1.0.0/16: File exists (EEXIST): Route exists")
    }

    @Test func truncatedTailIsIgnored() {
        var datagram = errorAck(code: -ESRCH, sequence: 9, text: nil)
        datagram += le32(200) + le16(24)  // a header claiming more bytes than there are
        let parsed = messages(datagram)
        #expect(parsed.count == 1)
        #expect(parsed[0].error?.description == "RTM_NEWROUTE 10.1.0.0/16: No such process (ESRCH)")
        #expect(parsed[0].error?.isNotFound == true)
    }

    @Test func errorTextForUnknownErrnoAndNonErrnoFailures() {
        #expect(NetlinkError(operation: "x", errno: 4000).description.hasSuffix("(errno 4000)"))
        #expect(NetlinkError.invalid("RTM_GETLINK", "truncated reply").description == "RTM_GETLINK: truncated reply")
    }

    @Test func linkDecoding() {
        var payload: [UInt8] = [0, 0] + le16(1) + le32(7) + le32(0x10043) + le32(0)  // ifinfomsg: index 7, UP|LOWER_UP
        payload += attribute(3, Array("tgw0".utf8) + [0])
        payload += attribute(4, le32(8500))
        payload += attribute(1, [2, 0, 0, 0, 0, 9])
        payload += attribute(18, attribute(1, Array("dummy".utf8) + [0]))
        let link = payload.withUnsafeBytes { LinkMessage.decode($0) }
        #expect(link == LinkInfo(index: 7, name: "tgw0", mtu: 8500, isUp: true, hasCarrier: true,
                                 macAddress: [2, 0, 0, 0, 0, 9], kind: "dummy", flags: 0x10043))
    }

    @Test func linkSetOnlyTouchesWhatIsGiven() throws {
        let bytes = try MessageWriter.encode(type: MessageType.newLink, flags: 0, sequence: 1) { w in
            LinkMessage.writeSet(index: 4, up: false, mtu: 1400, into: &w)
        }
        // ifinfomsg: family, pad, type, index 4, flags 0 (down), change IFF_UP; then IFLA_MTU.
        #expect(Array(bytes[16...]) == [0, 0, 0, 0] + le32(4) + le32(0) + le32(1) + attribute(4, le32(1400)))
    }

    @Test func ipv6AddressesSkipDuplicateAddressDetection() throws {
        let bytes = try MessageWriter.encode(type: MessageType.newAddress, flags: 0, sequence: 1) { w in
            AddressMessage.write(IPAddress("fd00::1")!, prefixLength: 64, index: 3, into: &w)
        }
        #expect(Array(bytes[16..<24]) == [10, 64, 2, 0] + le32(3))  // IFA_F_NODAD in ifa_flags
        let decoded = bytes.withUnsafeBytes { AddressMessage.decode(UnsafeRawBufferPointer(rebasing: $0[16...])) }
        #expect(decoded == InterfaceAddress(interfaceIndex: 3, address: IPAddress("fd00::1")!, prefixLength: 64, flags: 2))
        #expect(decoded?.v6 == IPv6InterfaceAddress("fd00::1/64"))

        let v4Bytes = try MessageWriter.encode(type: MessageType.newAddress, flags: 0, sequence: 1) { w in
            AddressMessage.write(v4("169.254.6.1"), prefixLength: 29, index: 3, into: &w)
        }
        #expect(Array(v4Bytes[24...]) == attribute(2, [169, 254, 6, 1]) + attribute(1, [169, 254, 6, 1]))
    }

    @Test func neighbourDecoding() {
        var payload: [UInt8] = [2, 0, 0, 0] + le32(5) + le16(0x80) + [0x80, 1]  // ndmsg: permanent, router
        payload += attribute(1, [10, 0, 1, 5])
        payload += attribute(2, [2, 0, 0, 0, 0, 5])
        let neighbour = payload.withUnsafeBytes { NeighbourMessage.decode($0) }
        #expect(neighbour == Neighbour(interfaceIndex: 5, address: v4("10.0.1.5"), macAddress: [2, 0, 0, 0, 0, 5],
                                       state: .permanent, isRouter: true))
        #expect(neighbour?.state.isUsable == true)
        #expect(NeighbourState([.stale, .probe]).description == "STALE,PROBE")
    }

    @Test func kernelConstantsMatchTheCHeaders() {
        #expect(MessageType.newRoute == UInt16(RTM_NEWROUTE))
        #expect(MessageType.getNeighbour == UInt16(RTM_GETNEIGH))
        #expect(RouteAttribute.multipath == UInt16(RTA_MULTIPATH.rawValue))
        #expect(RouteAttribute.via == UInt16(RTA_VIA.rawValue))
        #expect(RouteAttribute.table == UInt16(RTA_TABLE.rawValue))
        #expect(NLMFlag.create == UInt16(NLM_F_CREATE))
        #expect(NLMFlag.ackTLVs == UInt16(NLM_F_ACK_TLVS))
        #expect(MemoryLayout<rtnexthop>.size == 8)
    }
}
