import Commands
@testable import Control

/// A daemon stand-in for shell sessions: keeps the config, records what was
/// applied, can be told to refuse the next apply.
final class FakeBackend: ShellBackend {
    var runningConfig: RunningConfig
    /// Each apply: the config and the shell line.
    var applied: [(config: RunningConfig, line: String)] = []
    var failNextApply: String?

    init(_ text: String = "") throws {
        runningConfig = try ConfigParser.parse(text: text)
    }

    struct Refused: Error, CustomStringConvertible { let description: String }

    func apply(_ config: RunningConfig, line: String) throws {
        if let why = failNextApply {
            failNextApply = nil
            throw Refused(description: why)
        }
        runningConfig = config
        applied.append((config, line))
    }

    func show(_ command: ShowCommand, json: Bool) -> ShellResponse {
        switch command {
        case .runningConfig: .ok(runningConfig.render())
        case .interfaces(let name?) where runningConfig.tunnels[name] == nil: .error("% No such interface: \(name)\n")
        default: .ok("\(command) json=\(json)\n")
        }
    }

    func liveValues(for slot: ArgumentSlot) -> [String] {
        slot.kind == .interfaceName ? runningConfig.tunnels.keys.sorted() : []
    }
}

let oneTunnel = """
hostname egress-a
interface tgw0
 tunnel connect-peer peer-a source 10.0.1.10 destination 10.0.1.1
 ip address 169.254.6.1/29
!
interface tgw1
 shutdown
!
"""
