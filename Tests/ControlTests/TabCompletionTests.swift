import Testing
@testable import Control

// What TAB inserts, given the daemon's candidate words.

@Test func singleCandidateCompletesTheWordAndAddsABlank() {
    #expect(TabCompletion.action(line: "show int", candidates: ["interfaces"]) == .insert("erfaces "))
    #expect(TabCompletion.action(line: "SH", candidates: ["show"]) == .insert("ow "))
    #expect(TabCompletion.action(line: "show", candidates: ["show"]) == .insert(" "))
    #expect(TabCompletion.action(line: "show interfaces ", candidates: ["tgw0"]) == .insert("tgw0 "))
}

@Test func severalCandidatesCompleteTheirCommonBeginningThenList() {
    #expect(TabCompletion.action(line: "show interfaces t", candidates: ["tgw10", "tgw11"]) == .insert("gw1"))
    #expect(TabCompletion.action(line: "show i", candidates: ["interfaces", "ip", "ipv6"]) == .list(["interfaces", "ip", "ipv6"]))
    #expect(TabCompletion.action(line: "", candidates: ["configure", "show"]) == .list(["configure", "show"]))
}

@Test func noCandidateMeansHelp() {
    #expect(TabCompletion.action(line: "ip address ", candidates: []) == .help)
    #expect(TabCompletion.action(line: "show x", candidates: ["interfaces"]) == .help)
}
