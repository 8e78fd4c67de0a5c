import Testing
@testable import Netlink

@Test func netlinkBuilds() {}
