// `write memory`: saving the running config over the daemon's config file
// so that a crash or power cut at any moment leaves either the old or the
// new file, never a torn one: write a temporary file in the same directory,
// fsync it, keep the old file as FILE.bak (a hard link, so FILE itself is
// never missing), rename the new file over FILE, fsync the directory.

#if canImport(Glibc)
import Glibc
#endif

/// Why the configuration could not be saved.
public struct ConfigSaveError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ step: String, _ path: String, errno code: Int32) {
        description = "cannot save the configuration: \(step) \(path): \(String(cString: strerror(code)))"
    }
}

/// The daemon's configuration file, for `write memory`.
public struct ConfigFileStore: Sendable, Equatable {
    /// The file egressd was started with (--config).
    public let path: String

    public init(path: String) { self.path = path }

    /// Where the previous version is kept.
    public var backupPath: String { path + ".bak" }

    var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// Replaces the file with `text` atomically. Returns whether a previous
    /// file existed (and is now FILE.bak). The new file keeps the old one's
    /// mode and owner (0640 for a new file).
    @discardableResult
    public func save(_ text: String) throws(ConfigSaveError) -> Bool {
        var old = stat()
        let existed = stat(path, &old) == 0
        let baseName = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(directory)/.\(baseName).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        let tempPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard fd >= 0 else { throw ConfigSaveError("create a temporary file in", directory, errno: errno) }
        var renamed = false
        defer { if !renamed { unlink(tempPath) } }
        do {
            defer { close(fd) }
            _ = fchmod(fd, existed ? old.st_mode & 0o7777 : 0o640)
            if existed { _ = fchown(fd, old.st_uid, old.st_gid) }
            let bytes = Array(text.utf8)
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw ConfigSaveError("write", tempPath, errno: errno) }
                written += n
            }
            guard fsync(fd) == 0 else { throw ConfigSaveError("fsync", tempPath, errno: errno) }
        }
        if existed {
            unlink(backupPath)
            if link(path, backupPath) != 0 {
                // No hard links here (some file systems): copy instead.
                try copy(path, to: backupPath)
            }
        }
        guard rename(tempPath, path) == 0 else { throw ConfigSaveError("rename to", path, errno: errno) }
        renamed = true
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
        return existed
    }

    private func copy(_ source: String, to destination: String) throws(ConfigSaveError) {
        guard let input = fopen(source, "rb") else { throw ConfigSaveError("read", source, errno: errno) }
        defer { fclose(input) }
        guard let output = fopen(destination, "wb") else { throw ConfigSaveError("create", destination, errno: errno) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress!, 1, $0.count, input) }
            if n == 0 { break }
            guard buffer.withUnsafeBytes({ fwrite($0.baseAddress!, 1, n, output) }) == n else {
                fclose(output)
                throw ConfigSaveError("write", destination, errno: errno)
            }
        }
        guard fflush(output) == 0, fsync(fileno(output)) == 0, fclose(output) == 0 else {
            throw ConfigSaveError("write", destination, errno: errno)
        }
    }
}
