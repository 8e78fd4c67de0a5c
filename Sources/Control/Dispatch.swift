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
    /// Runs one shell line; returns its output and whether it succeeded.
    public func execute(_ line: String) -> (output: String, ok: Bool) {
        if line.isEmpty { return ("", true) }
        let matched: MatchedCommand
        do {
            matched = try CommandRegistry.standard.match(line, mode: .exec)
        } catch {
            return (error.rendered(line: line) + "\n", false)
        }
        guard case .exec(let action) = matched.action else { return ("% Not an exec command\n", false) }
        let command: ExecCommand
        do {
            command = try action(matched.arguments)
        } catch {
            return ("% \(error.message)\n", false)
        }
        return run(command)
    }

    func run(_ command: ExecCommand) -> (output: String, ok: Bool) {
        switch command {
        case .show(.version, _):
            return (showVersion(), true)
        case .show(.runningConfig, _):
            return (config.render(), true)
        case .show(.interfaces(let name), let json):
            return showInterfaces(name: name, json: json)
        case .show(.ipRoute, let json):
            return showRoutes(ipv6: false, json: json)
        case .show(.ipv6Route, let json):
            return showRoutes(ipv6: true, json: json)
        case .show(.dataplane, let json):
            return showDataplane(json: json)
        case .configureTerminal:
            return ("% Configuration mode in the shell is not available yet: edit the file and send SIGHUP\n", false)
        case .exit, .end:
            return ("", true)
        }
    }
}
