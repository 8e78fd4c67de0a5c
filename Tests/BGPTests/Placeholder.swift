import Testing
@testable import BGP

@Test func bgpBuilds() {}
