import Commands
import Foundation
import Testing
@testable import Control

// `write memory`: atomic replacement of the config file, previous file kept.

/// A fresh directory under /tmp, removed by the caller.
private func scratchDirectory() throws -> URL {
    let url = URL(fileURLWithPath: NSTemporaryDirectory())
        .appendingPathComponent("egressd-control-tests-\(getpid())-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func read(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

@Test func saveReplacesTheFileAndKeepsTheOldOneAsBackup() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("egressd.conf").path
    try "hostname old\n".write(toFile: path, atomically: false, encoding: .utf8)
    chmod(path, 0o600)
    let store = ConfigFileStore(path: path)
    #expect(try store.save("hostname new\n!\n") == true)
    #expect(read(path) == "hostname new\n!\n")
    #expect(read(path + ".bak") == "hostname old\n")
    // The new file keeps the old one's mode; no temporary file is left over.
    var info = stat()
    #expect(stat(path, &info) == 0)
    #expect(info.st_mode & 0o777 == 0o600)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["egressd.conf", "egressd.conf.bak"])
    // A second save moves the backup on by one version.
    try store.save("hostname newer\n")
    #expect(read(path + ".bak") == "hostname new\n!\n")
    #expect(read(path) == "hostname newer\n")
}

@Test func saveCreatesAMissingFileWithoutBackup() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("new.conf").path
    #expect(try ConfigFileStore(path: path).save("hostname a\n") == false)
    #expect(read(path) == "hostname a\n")
    #expect(!FileManager.default.fileExists(atPath: path + ".bak"))
    var info = stat()
    #expect(stat(path, &info) == 0)
    #expect(info.st_mode & 0o777 == 0o640)
}

@Test func saveIntoAMissingDirectoryFailsWithAReason() {
    let store = ConfigFileStore(path: "/nonexistent-egressd-dir/egressd.conf")
    #expect {
        try store.save("x\n")
    } throws: { error in
        (error as? ConfigSaveError)?.description.contains("/nonexistent-egressd-dir") == true
    }
}

@Test func writeMemoryFromTheShellSavesTheRunningConfig() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("egressd.conf").path
    try oneTunnel.write(toFile: path, atomically: false, encoding: .utf8)
    let backend = try FakeBackend(oneTunnel)
    let shell = ShellSession(backend: backend, configFile: ConfigFileStore(path: path))
    _ = shell.execute("conf t")
    _ = shell.execute("interface tgw0")
    _ = shell.execute("ip address 169.254.9.1/29")
    let response = shell.execute("do write memory")
    #expect(response.status == .ok)
    #expect(response.output.contains("[OK]"))
    #expect(read(path + ".bak") == oneTunnel)
    let saved = try #require(read(path))
    #expect(saved.contains(" ip address 169.254.9.1/29\n"))
    // What was saved loads back into the same configuration.
    #expect(try ConfigParser.parse(text: saved) == backend.runningConfig)
    _ = shell.execute("end")
    #expect(shell.execute("copy running-config startup-config").status == .ok)
    #expect(read(path + ".bak") == saved)
}
