import Testing
@testable import Control

// The socket's wire format: requests (commands and queries) and framed responses.

@Test(arguments: [
    ShellRequest.line("show version"), .prompt, .complete("show int"), .complete("show "), .complete(""),
    .help("conf t"), .help(""), .interactive,
])
func requestsRoundTrip(request: ShellRequest) {
    #expect(ShellProtocol.parseRequest(ShellProtocol.encodeRequest(request)) == request)
}

@Test func commandLinesAreTrimmedButQueriesKeepTheirBlanks() {
    #expect(ShellProtocol.parseRequest("  show version \r") == .line("show version"))
    #expect(ShellProtocol.parseRequest("\u{1}complete show  \r") == .complete("show  "))
    #expect(ShellProtocol.parseRequest("\u{1}bogus") == .line("bogus"))
}

@Test func responsesAreFramedWithStatusAndLength() {
    let bytes = ShellProtocol.encodeResponse(ShellResponse(.closed, "héllo"))
    #expect(String(decoding: bytes, as: UTF8.self) == "2 6\nhéllo")
    #expect(ShellProtocol.parseHeader("2 6")! == (ShellStatus.closed, 6))
    #expect(ShellProtocol.parseHeader("0 0")! == (ShellStatus.ok, 0))
    #expect(ShellProtocol.parseHeader("7 1")! == (ShellStatus.error, 1))
    #expect(ShellProtocol.parseHeader("0 -1") == nil)
    #expect(ShellProtocol.parseHeader("x") == nil)
    #expect(String(decoding: ShellProtocol.encodeResponse(ok: false, output: "% no\n"), as: UTF8.self) == "1 5\n% no\n")
}
