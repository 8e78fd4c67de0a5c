import Testing
@testable import Commands

@Test func commandsBuilds() {}
