// eg-fuzz: libFuzzer targets for every parser that reads the network or the
// operator (Targets.swift).
//
//   eg-fuzz TARGET [FILE|DIR ...]        replay inputs (a normal build): each file
//                                        once through the target; the regression run
//   eg-fuzz TARGET [libFuzzer options]   fuzz (a build made by scripts/fuzz.sh, with
//                                        -DFUZZING, coverage, ASan, libFuzzer)
//
// TARGET: packet, bgp, bgp-session, wccp, config. Seeds: Fuzz/corpus/TARGET.

#if canImport(Glibc)
import Glibc
#endif
#if FUZZING
import CFuzzDriver
#endif

func complain(_ s: String) {
    let bytes = Array(s.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
}

func usage() -> Never {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    complain("usage: eg-fuzz TARGET [FILE|DIR ...]   (TARGET: \(names))\n")
    exit(2)
}

var arguments = CommandLine.arguments
// The target is the first argument; libFuzzer's -jobs children get it from EG_FUZZ_TARGET.
let target: FuzzTarget
if arguments.count >= 2, let t = FuzzTarget(rawValue: arguments[1]) {
    target = t
    arguments.remove(at: 1)
} else if let name = getenv("EG_FUZZ_TARGET"), let t = FuzzTarget(rawValue: String(cString: name)) {
    target = t
} else {
    usage()
}

#if FUZZING
nonisolated(unsafe) var selected = target
// libFuzzer sees argv without the target name.
setenv("EG_FUZZ_TARGET", target.rawValue, 1)
var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
var cCount = CInt(cArguments.count - 1)
let status = cArguments.withUnsafeMutableBufferPointer { buffer -> CInt in
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&cCount, &argv) { data, size in
        selected.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
exit(status)
#else
/// Every regular file under `path` (or `path` itself), sorted.
func files(_ path: String) -> [String] {
    var s = stat()
    guard stat(path, &s) == 0 else { complain("eg-fuzz: cannot read \(path)\n"); exit(1) }
    guard (s.st_mode & S_IFMT) == S_IFDIR else { return [path] }
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var out: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name == "." || name == ".." { continue }
        out += files(path + "/" + name)
    }
    return out.sorted()
}

func contents(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { complain("eg-fuzz: cannot open \(path)\n"); exit(1) }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return bytes
}

var count = 0
for path in arguments.dropFirst().flatMap(files) {
    contents(path).withUnsafeBytes { target.run($0) }
    count += 1
}
print("eg-fuzz \(target.rawValue): \(count) inputs replayed, no crash")
#endif
