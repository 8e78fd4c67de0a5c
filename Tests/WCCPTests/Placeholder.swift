import Testing
@testable import WCCP

@Test func wccpBuilds() {}
