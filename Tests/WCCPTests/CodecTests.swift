import Packet
import Testing
@testable import WCCP

@Suite struct CodecTests {
    @Test func squidHereIAmFixtureDecodes() throws {
        #expect(squidHereIAmHash.count == 144)
        guard case .hereIAm(let hia) = try WCCPMessage.decode(squidHereIAmHash) else {
            Issue.record("not a HERE_I_AM"); return
        }
        #expect(hia.version == .v2)
        #expect(hia.security == .none)
        #expect(hia.service == .webCache)
        #expect(hia.identity.cacheIP == ip("10.77.0.2"))
        #expect(hia.identity.flags == 0)
        #expect(hia.identity.weight == 10000)
        #expect(hia.identity.bitmapBuckets.isEmpty)
        #expect(hia.view == WebCacheViewInfo(changeNumber: 1, routers: [RouterIDElement(routerIP: ip("10.77.0.1"), receiveID: 0)], caches: []))
        #expect(hia.capabilities == [.forwarding(.gre), .assignment(.hash), .packetReturn(.gre)])
        #expect(hia.command == nil && hia.unknownComponents.isEmpty)
    }

    @Test func squidHereIAmReencodesByteForByte() throws {
        let message = try WCCPMessage.decode(squidHereIAmHash)
        #expect(message.encode() == squidHereIAmHash)
        // The builder mirrors wccp2Init and produces the same bytes.
        let built = WCCPMessage.hereIAm(squidHereIAm(cache: ip("10.77.0.2"), router: ip("10.77.0.1")))
        #expect(built.encode() == squidHereIAmHash)
    }

    @Test func squidMaskHereIAmIs132Bytes() throws {
        let m = WCCPMessage.hereIAm(squidHereIAm(cache: ip("10.77.0.2"), router: ip("10.77.0.1"), mask: true))
        let bytes = m.encode()
        #expect(bytes.count == 132)
        #expect(try WCCPMessage.decode(bytes) == m)
    }

    @Test func squidAcceptedISeeYouDecodes() throws {
        #expect(squidAcceptedISeeYou.count == 168)
        guard case .iSeeYou(let isy) = try WCCPMessage.decode(squidAcceptedISeeYou) else {
            Issue.record("not an I_SEE_YOU"); return
        }
        #expect(isy.identity == RouterIdentityInfo(router: RouterIDElement(routerIP: ip("10.77.0.1"), receiveID: 1),
                                                   sentTo: ip("10.77.0.1"), receivedFrom: [ip("10.77.0.2")]))
        #expect(isy.view.memberChangeNumber == 1)
        #expect(isy.view.assignmentKey == .none)
        #expect(isy.view.routers == [ip("10.77.0.1")])
        #expect(isy.view.caches == [.hash(ip("10.77.0.2"), weight: 10000)])
        #expect(isy.capabilities == [.forwarding([.gre, .l2]), .assignment([.hash, .mask]), .packetReturn([.gre, .l2])])
        #expect(WCCPMessage.iSeeYou(isy).encode() == squidAcceptedISeeYou)
    }

    static let hashAssignment = HashAssignment(
        key: AssignmentKey(keyIP: ip("10.0.0.2"), changeNumber: 7),
        routers: [RouterAssignmentElement(routerIP: ip("10.0.0.1"), receiveID: 5, changeNumber: 3)],
        caches: [ip("10.0.0.2"), ip("10.0.0.3")],
        buckets: (0..<256).map { (i: Int) -> UInt8 in
            if i % 5 == 0 { return 0xFF }
            let alternate: UInt8 = i % 7 == 0 ? 0x80 : 0
            return UInt8(i % 2) | alternate
        })

    static let maskAssignment = MaskAssignment(
        key: AssignmentKey(keyIP: ip("10.0.0.2"), changeNumber: 8),
        routers: [RouterAssignmentElement(routerIP: ip("10.0.0.1"), receiveID: 6, changeNumber: 4)],
        sets: [squidMaskSet(caches: [ip("10.0.0.2"), ip("10.0.0.3")]),
               MaskValueSet(mask: MaskFields(srcPort: 0xF, dstPort: 0x1), values: [
                   MaskValueElement(value: MaskFields(srcPort: 3, dstPort: 1), cacheIP: ip("10.0.0.3"))])])

    static let dynamicService = ServiceInfo(serviceType: ServiceInfo.typeDynamic, serviceID: 80, priority: 240, protocolNumber: 6,
                                            flags: [.srcIPHash, .portsDefined, .srcPortAltHash], ports: [80, 443])

    static let allMessages: [WCCPMessage] = {
        var hia = squidHereIAm(cache: ip("10.0.0.2"), router: ip("10.0.0.1"), echo: 9, service: dynamicService)
        hia.command = CommandExtension(commandType: CommandExtension.shutdown, data: ip("10.0.0.2").bytes)
        hia.capabilities! += [.transmitT(upper: 0, lower: 500), .timerScale(0, 2, 0, 3), .unknown(type: 99, value: [1, 2, 3, 4])]
        hia.unknownComponents = [RawComponent(type: ComponentType(rawValue: 17), body: [0, 1, 0, 4, 0, 0, 0, 0])]
        hia.version = .v2rev1
        let view = RouterViewInfo(memberChangeNumber: 4, assignmentKey: AssignmentKey(keyIP: ip("10.0.0.2"), changeNumber: 2),
                                  routers: [ip("10.0.0.1")],
                                  caches: [.hash(ip("10.0.0.2"), buckets: [0, 9, 255], weight: 100, status: 1),
                                           WebCacheIdentityElement(cacheIP: ip("10.0.0.3"), flags: 2,
                                                                   data: .mask(sets: maskAssignment.sets, weight: 5, status: 0))])
        let identity = RouterIdentityInfo(router: RouterIDElement(routerIP: ip("10.0.0.1"), receiveID: 12), sentTo: ip("10.0.0.2"),
                                          receivedFrom: [ip("10.0.0.2"), ip("10.0.0.3")])
        let isyInfo = ISeeYou(security: .none, service: dynamicService, identity: identity, view: view,
                              assignment: .info(hashAssignment), capabilities: [.forwarding(.gre)])
        let isyMap = ISeeYou(security: .md5(digest: Array(1...16)), service: .webCache, identity: identity, view: view,
                             assignment: .map(maskAssignment.sets), command: CommandExtension(commandType: 2, data: [10, 0, 0, 2]))
        return [
            .hereIAm(hia), .iSeeYou(isyInfo), .iSeeYou(isyMap),
            .redirectAssign(RedirectAssign(security: .none, service: .webCache, assignment: .hash(hashAssignment))),
            .redirectAssign(RedirectAssign(security: .none, service: .webCache, assignment: .alternate(.hash(hashAssignment)))),
            .redirectAssign(RedirectAssign(security: .none, service: dynamicService, assignment: .alternate(.mask(maskAssignment)))),
            .redirectAssign(RedirectAssign(security: .none, service: .webCache, assignment: .alternate(.other(type: 3, body: [0, 0, 0, 1])))),
            .removalQuery(RemovalQuery(security: .none, service: .webCache,
                                       query: RouterQueryInfo(routerID: ip("10.0.0.1"), receiveID: 3, sentTo: ip("10.0.0.2"), target: ip("10.0.0.2")))),
        ]
    }()

    @Test(arguments: allMessages.indices)
    func roundTrip(index: Int) throws {
        let message = Self.allMessages[index]
        let bytes = message.encode()
        #expect(bytes.count % 4 == 0)
        #expect(Int(bytes[6]) << 8 | Int(bytes[7]) == bytes.count - 8, "Length excludes the 8-byte header")
        #expect(try WCCPMessage.decode(bytes) == message)
    }

    @Test func headerFields() throws {
        let bytes = Self.allMessages[0].encode()
        #expect(Array(bytes[0..<6]) == [0, 0, 0, 10, 0x02, 0x01])
        let rq = Self.allMessages.last!.encode()
        #expect(Array(rq[0..<4]) == [0, 0, 0, 13])
        #expect(rq.count == 8 + 8 + 28 + 20)
    }

    @Test func hashBitmapUsesLSBFirst() {
        let e = WebCacheIdentityElement.hash(ip("1.2.3.4"), buckets: [0, 9, 255])
        guard case .hash(let bitmap, _, _) = e.data else { Issue.record("not hash"); return }
        #expect(bitmap[0] == 0x01 && bitmap[1] == 0x02 && bitmap[31] == 0x80)
        #expect(e.bitmapBuckets == [0, 9, 255])
    }

    @Test func unpaddedLastComponentIsTolerated() throws {
        // A raw unknown component with a 3-byte body and no padding at the end of the message.
        var bytes = Self.allMessages.last!.encode()
        bytes += [0x00, 0x63, 0x00, 0x03, 1, 2, 3]
        let length = bytes.count - 8
        bytes[6] = UInt8(length >> 8); bytes[7] = UInt8(length & 0xFF)
        guard case .removalQuery(let rq) = try WCCPMessage.decode(bytes) else { Issue.record("type"); return }
        #expect(rq.unknownComponents == [RawComponent(type: ComponentType(rawValue: 99), body: [1, 2, 3])])
    }
}
