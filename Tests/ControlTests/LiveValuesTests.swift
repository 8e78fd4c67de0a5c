import Testing
import Commands
@testable import Control

/// TAB completes live values from the running config: tunnel names, BGP
/// neighbor addresses, WCCP service numbers.
@Suite struct LiveValuesTests {
    static let config: RunningConfig = {
        let text = """
        interface tgw0
         tunnel connect-peer tgw-1 source 10.0.1.10 destination 10.0.0.1
         ip address 169.254.6.1/29
        interface tgw1
         tunnel connect-peer tgw-2 source 10.0.1.10 destination 10.0.0.2
         ip address 169.254.7.1/29
        router bgp 65000
         neighbor 169.254.7.2 remote-as 64512
         neighbor 169.254.6.2 remote-as 64512
        ip wccp router-id 10.0.3.10
        ip wccp 90
        ip wccp web-cache
        """
        return try! ConfigParser.parse(text: text, fileName: "live.conf")
    }()

    @Test func neighborAddressesAndServicesAndTunnels() throws {
        let registry = CommandRegistry.standard
        func values(_ line: String, _ mode: CommandMode = .exec) throws -> [String] {
            let source: LiveValueSource = { Appliance.liveValues(for: $0, in: Self.config) }
            return try registry.completions(line: line, mode: mode, liveValues: source).filter { $0.kind == .value }.map(\.word)
        }
        #expect(try values("show ip bgp neighbors ") == ["169.254.6.2", "169.254.7.2"])
        #expect(try values("show ip wccp ") == ["0", "90"])
        #expect(try values("show interfaces ") == ["tgw0", "tgw1"])
    }
}
