// From a line of text to what the appliance does: config files through the
// Commands parser, shell lines through the command tree's exec mode.

import Commands
import Foundation

public enum ConfigFile {
    /// Reads and parses a config file. On failure the message is
    /// "FILE:LINE:COL: what is wrong" (or why the file cannot be read).
    public static func load(path: String) -> Result<RunningConfig, ConfigFileError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ConfigFileError(description: "\(path): cannot read the configuration file"))
        }
        let text = String(decoding: data, as: UTF8.self)
        do {
            return .success(try ConfigParser.parse(text: text, fileName: path))
        } catch {
            return .failure(ConfigFileError(description: "\(error)"))
        }
    }
}

public struct ConfigFileError: Error, CustomStringConvertible {
    public let description: String
}

extension Appliance {
    /// Runs one shell line in a fresh exec-mode session (no config file, so
    /// no `write memory`); returns its output and whether it succeeded.
    public func execute(_ line: String) -> (output: String, ok: Bool) {
        let response = ShellSession(backend: self, configFile: nil).execute(line)
        return (response.output, response.status != .error)
    }

    /// The output of a `show` command.
    func run(_ command: ShowCommand, json: Bool) -> ShellResponse {
        let (output, ok): (String, Bool) = switch command {
        case .version: (showVersion(), true)
        case .runningConfig: (config.render(), true)
        case .interfaces(let name): showInterfaces(name: name, json: json)
        case .ipRoute: showRoutes(ipv6: false, json: json)
        case .ipv6Route: showRoutes(ipv6: true, json: json)
        case .dataplane: showDataplane(json: json)
        case .logging: (showLogging(json: json), true)
        case .bgp(let what): showBGP(what, json: json)
        case .wccp(let what): showWCCP(what, json: json)
        case .tracePacket(let request): tracePacket(request, json: json)
        case .capture(let request): startCapture(request)
        case .stopCapture(let name): stopCapture(name)
        case .captures: showCaptures(json: json)
        }
        return ShellResponse(ok ? .ok : .error, output)
    }
}
