import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One input file found by the discover stage.
///
/// Linux file names are bytes. A name that is not valid UTF-8 (an old Latin-1 archive's
/// `caf\xE9.mp4`) is shown with each byte that does not decode as `%XX` (`caf%E9.mp4`) in
/// `relativePath` and `path`, which name its outputs and its records; `rawPath` keeps the bytes
/// that open it (``withOpenablePath(_:)``).
public struct InputFile: Sendable, Equatable {
    /// Path relative to the input root, `/`-separated; the key for output names and shards.
    public var relativePath: String
    /// Absolute path to open (through symlinks as found), or to show when `rawPath` is set.
    public var path: String
    public var size: Int64
    /// Modification time, seconds since 1970.
    public var modified: Double
    /// The absolute path's bytes when they are not valid UTF-8; nil otherwise.
    public var rawPath: [UInt8]? = nil

    /// Runs `body` with a path that opens this file: `path`, or for a name that is not UTF-8, a
    /// symbolic link to `rawPath` named like the file (`caf%E9.mp4`, so its extension still
    /// hints the format) in a private temporary directory, removed afterwards. Errors thrown as
    /// `StageFailure` name `path`, not the link.
    public func withOpenablePath<T>(_ body: (String) throws -> T) throws -> T {
        guard let rawPath else { return try body(path) }
        let link = try NameAliases.shared.link(to: rawPath, named: (path as NSString).lastPathComponent)
        defer { NameAliases.remove(link) }
        do {
            return try body(link)
        } catch var failure as StageFailure {
            failure.message = failure.message.replacingOccurrences(of: link, with: path)
            throw failure
        }
    }

    /// `bytes` as a String: valid UTF-8 as it is, every byte that does not decode as `%XX`.
    public static func displayName(_ bytes: [UInt8]) -> String {
        if let valid = String(validating: bytes, as: UTF8.self) { return valid }
        var out = "", i = 0
        while i < bytes.count {
            // The longest valid sequence starting here (UTF-8 sequences are 1 to 4 bytes).
            var taken = 0
            for length in stride(from: min(4, bytes.count - i), through: 1, by: -1) {
                if let s = String(validating: bytes[i ..< i + length], as: UTF8.self), s.unicodeScalars.count == 1 {
                    out += s
                    taken = length
                    break
                }
            }
            if taken == 0 {
                out += String(format: "%%%02X", bytes[i])
                taken = 1
            }
            i += taken
        }
        return out
    }
}

/// Symbolic links with UTF-8 names to files whose names are not, so FFmpeg and Foundation, which
/// take paths as Strings, can open them. One private directory per process under $TMPDIR.
final class NameAliases: @unchecked Sendable {
    static let shared = NameAliases()
    private let lock = NSLock()
    private var directory: String?
    private var count = 0

    /// A new link `<dir>/<n>/<name>` to `target`.
    func link(to target: [UInt8], named name: String) throws -> String {
        let dir: String = try lock.withLock {
            if directory == nil {
                var template = Array(((ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/tokenreel-names-XXXXXX").utf8CString)
                guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
                    throw StageFailure(kind: "io", message: "cannot make a temporary directory for a file name that is not UTF-8: \(String(cString: strerror(errno)))")
                }
                directory = String(cString: template)
                atexit { NameAliases.shared.removeDirectory() }
            }
            count += 1
            return directory! + "/\(count)"
        }
        guard mkdir(dir, 0o700) == 0 else {
            throw StageFailure(kind: "io", message: "cannot make \(dir): \(String(cString: strerror(errno)))")
        }
        let link = dir + "/" + name
        let status = (target + [0]).withUnsafeBufferPointer { t in
            t.baseAddress!.withMemoryRebound(to: CChar.self, capacity: t.count) { symlink($0, link) }
        }
        guard status == 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(dir)
            throw StageFailure(kind: "io", message: "cannot link \(link) to a file name that is not UTF-8: \(reason)")
        }
        return link
    }

    /// Removes the (by then empty) private directory; at exit.
    func removeDirectory() { lock.withLock { if let directory { rmdir(directory) } } }

    /// Removes a link `link` made and its directory.
    static func remove(_ link: String) {
        unlink(link)
        rmdir((link as NSString).deletingLastPathComponent)
    }
}

/// The discover stage: a recursive walk of the input directory.
///
/// - Entries are visited in byte order of their names, so the order is the same on every machine.
/// - Symbolic links are followed, to files and to directories; a directory already on the current
///   walk (same device and inode) is not entered again, so symlink loops end.
/// - Hidden entries (names starting with `.`) and the directory `exclude` (the output directory,
///   when it lies inside the input) are skipped.
/// - Only regular files whose extension is in `extensions` (case-insensitive) are taken.
///   A dangling symlink with a video extension is taken too: it becomes a `not_found` error record.
public enum Discovery {
    public static func walk(root: String, extensions: [String], exclude: String? = nil) throws -> [InputFile] {
        let rootURL = URL(fileURLWithPath: root).standardizedFileURL
        var st = stat()
        guard stat(rootURL.path, &st) == 0 else {
            throw StageFailure(kind: "not_found", message: "\(root): no such directory")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw StageFailure(kind: "not_a_directory", message: "\(root): not a directory")
        }
        let wanted = Set(extensions.map { $0.lowercased() })
        let excluded: FileID? = exclude.flatMap { FileID(path: $0) }
        var found: [InputFile] = []
        var onPath: Set<FileID> = [FileID(st)]
        // Paths are walked as bytes (Linux names need not be UTF-8) and shown with InputFile.displayName.
        // `escaped`: some name on the way to `dir` is not UTF-8, so its files need their bytes.
        func visit(_ dir: [UInt8], _ shown: String, _ rel: String, escaped: Bool) {
            for name in entries(dir) where name.first != UInt8(ascii: ".") {
                let full = dir + [UInt8(ascii: "/")] + name
                let display = InputFile.displayName(name)
                let relPath = rel.isEmpty ? display : rel + "/" + display
                let shownFull = shown + "/" + display
                let escapedHere = escaped || String(validating: name, as: UTF8.self) == nil
                let raw: [UInt8]? = escapedHere ? full : nil
                func input(size: Int64, modified: Double) -> InputFile {
                    InputFile(relativePath: relPath, path: shownFull, size: size, modified: modified, rawPath: raw)
                }
                var s = stat()
                if statBytes(full, &s) != 0 {
                    // Dangling link or vanished file: keep it when it looks like a video.
                    if wanted.contains((display as NSString).pathExtension.lowercased()) { found.append(input(size: 0, modified: 0)) }
                    continue
                }
                switch s.st_mode & S_IFMT {
                case S_IFDIR:
                    let id = FileID(s)
                    if id == excluded || onPath.contains(id) { continue }
                    onPath.insert(id)
                    visit(full, shownFull, relPath, escaped: escapedHere)
                    onPath.remove(id)
                case S_IFREG:
                    guard wanted.contains((display as NSString).pathExtension.lowercased()) else { continue }
                    let mtime = Double(s.st_mtim.tv_sec) + Double(s.st_mtim.tv_nsec) / 1e9
                    found.append(input(size: Int64(s.st_size), modified: mtime))
                default:
                    continue
                }
            }
        }
        visit(Array(rootURL.path.utf8), rootURL.path, "", escaped: false)
        return found
    }

    /// The entry names of directory `dir` (bytes), in byte order; none when it cannot be read.
    static func entries(_ dir: [UInt8]) -> [[UInt8]] {
        guard let handle = (dir + [0]).withUnsafeBufferPointer({ p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { opendir($0) }
        }) else { return [] }
        defer { closedir(handle) }
        var names: [[UInt8]] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name != [UInt8(ascii: ".")] && name != [UInt8(ascii: "."), UInt8(ascii: ".")] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// stat(2) on a path given as bytes.
    static func statBytes(_ path: [UInt8], _ s: inout stat) -> Int32 {
        (path + [0]).withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { stat($0, &s) }
        }
    }

    /// A directory's identity, so loops are seen whatever path leads to it.
    struct FileID: Hashable {
        var device: UInt64
        var inode: UInt64
        init(_ s: stat) { device = UInt64(s.st_dev); inode = UInt64(s.st_ino) }
        init?(path: String) {
            var s = stat()
            guard stat(path, &s) == 0 else { return nil }
            self.init(s)
        }
    }
}

/// A deterministic share of the inputs: shard `index` of `count` takes every input whose
/// relative path hashes (FNV-1a, 64 bit) to `index` modulo `count`. The same path lands in the
/// same shard on every machine and every run, whatever else the directory holds.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public static let all = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) { self.index = index; self.count = count }

    /// Parses `I/N` with 0 <= I < N.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw StageFailure(kind: "usage", message: "shard '\(text)' is not I/N with 0 <= I < N (e.g. 0/4)")
        }
        self.init(index: i, count: n)
    }

    /// Environment variables read when `--shard` is not given, in this order:
    /// - Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` (set by Kubernetes) with the count in
    ///   `TOKENREEL_SHARD_COUNT` (set it to the Job's `completions`; see deploy/indexed-job.yaml).
    /// - Slurm job array: `SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT`, offset by
    ///   `SLURM_ARRAY_TASK_MIN` when set (arrays may start at 1).
    /// Returns nil when neither is present; throws when one is present but inconsistent.
    public static func fromEnvironment(_ env: [String: String]) throws -> Shard? {
        func number(_ key: String) throws -> Int? {
            guard let v = env[key] else { return nil }
            guard let n = Int(v.trimmingCharacters(in: .whitespaces)) else {
                throw StageFailure(kind: "usage", message: "environment variable \(key)='\(v)' is not an integer")
            }
            return n
        }
        if let i = try number("JOB_COMPLETION_INDEX") {
            guard let n = try number("TOKENREEL_SHARD_COUNT") else {
                throw StageFailure(kind: "usage", message: "JOB_COMPLETION_INDEX=\(i) is set but TOKENREEL_SHARD_COUNT (the Job's completions) is not")
            }
            return try Shard(parsing: "\(i)/\(n)")
        }
        if let id = try number("SLURM_ARRAY_TASK_ID") {
            guard let n = try number("SLURM_ARRAY_TASK_COUNT") else {
                throw StageFailure(kind: "usage", message: "SLURM_ARRAY_TASK_ID=\(id) is set but SLURM_ARRAY_TASK_COUNT is not")
            }
            let min = try number("SLURM_ARRAY_TASK_MIN") ?? 0
            return try Shard(parsing: "\(id - min)/\(n)")
        }
        return nil
    }

    public func contains(_ relativePath: String) -> Bool {
        count == 1 || Int(Shard.fnv1a(relativePath) % UInt64(count)) == index
    }

    public static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    public var description: String { "\(index)/\(count)" }

    /// Suffix of the manifest and summary names of a sharded run (`""` when unsharded).
    public var fileSuffix: String { count == 1 ? "" : ".shard-\(index)-of-\(count)" }
}
