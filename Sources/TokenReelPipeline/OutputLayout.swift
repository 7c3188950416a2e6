import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where results go and how they are written.
///
/// - A result is `OUT_DIR/<relative input path>.json`: `a/x.mp4` and `b/x.mp4` never collide.
/// - Every file is written to a hidden temporary file in the same directory, flushed, then
///   renamed over the target: a reader (or a run killed at any instant) sees the old file or
///   the new one, never a part.
public struct OutputLayout: Sendable {
    public var root: URL

    public init(root: URL) { self.root = root.standardizedFileURL }

    public static func resultRelativePath(for inputRelativePath: String) -> String { inputRelativePath + ".json" }

    public func resultURL(for inputRelativePath: String) -> URL {
        root.appendingPathComponent(OutputLayout.resultRelativePath(for: inputRelativePath))
    }

    public func manifestURL(_ shard: Shard) -> URL { root.appendingPathComponent("manifest\(shard.fileSuffix).jsonl") }
    public func summaryURL(_ shard: Shard) -> URL { root.appendingPathComponent("summary\(shard.fileSuffix).json") }

    /// Creates `url` and its missing parents (mkdir -p). Throws `StageFailure` (kind `io`) naming
    /// the directory that could not be made and why, in the system's words ("Permission denied").
    public static func createDirectories(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return }
            throw StageFailure(kind: "io", message: "cannot create the directory \(url.path): a file of that name exists")
        }
        let parent = url.deletingLastPathComponent()
        if parent.path != url.path { try createDirectories(parent) }
        if mkdir(url.path, 0o755) != 0 && errno != EEXIST { throw posixError("cannot create the directory", url.path) }
    }

    /// Writes `data` to `url` atomically (temporary file + fsync + rename), creating parent directories.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try createDirectories(dir)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(hostTag)-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        // Errors name the file asked for; the temporary's name only says which step failed.
        func failure(_ step: String) -> Error { posixError("cannot write", "\(url.path) (\(step))") }
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("creating its temporary file in \(dir.path)") }
        var ok = false
        defer { if !ok { unlink(tmp.path) } }
        try data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; let e = failure("writing"); close(fd); throw e }
                off += n
            }
        }
        guard fsync(fd) == 0 else { let e = failure("syncing"); close(fd); throw e }
        close(fd)
        guard rename(tmp.path, url.path) == 0 else { throw failure("renaming its temporary file") }
        ok = true
    }

    /// Removes the temporary files that runs killed mid-write (SIGKILL, power loss) left under
    /// the output root: `.<name>.tmp-<host>-<pid>-<n>` written on this host by a process that no
    /// longer exists. Files of a live process (another shard writing into the same directory) and
    /// of other hosts (shards sharing the directory over a network file system) are left alone.
    /// Returns the relative paths removed.
    @discardableResult
    public func removeStaleTemporaries() -> [String] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var removed: [String] = []
        for case let url as URL in walker {
            guard let owner = OutputLayout.temporaryOwner(url.lastPathComponent), owner.host == OutputLayout.hostTag,
                  !OutputLayout.processExists(owner.pid) else { continue }
            if unlink(url.path) == 0 { removed.append(String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))) }
        }
        return removed.sorted()
    }

    /// This host's name as temporary file names carry it (characters other than letters, digits
    /// and dots dropped).
    public static let hostTag: String = {
        var buf = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buf, buf.count) == 0 ? String(cString: buf) : "host"
        let kept = name.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "." }
        return kept.isEmpty ? "host" : String(String.UnicodeScalarView(kept))
    }()

    /// Host and pid in a name `writeAtomically` gives its temporary files, or nil for any other name.
    static func temporaryOwner(_ name: String) -> (host: String, pid: pid_t)? {
        guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards) else { return nil }
        let parts = name[marker.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, let pid = pid_t(parts[1]), pid > 0, UInt32(parts[2]) != nil else { return nil }
        return (String(parts[0]), pid)
    }

    private static func processExists(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    private static func posixError(_ call: String, _ path: String) -> Error {
        StageFailure(kind: "io", message: "\(call) \(path): \(String(cString: strerror(errno)))")
    }

    /// JSON as TokenReel writes it: sorted keys, so equal results are equal bytes.
    public static func encoder(pretty: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// The existing result for an input, if it can be reused: it parses, and it was made by the
    /// same model (sha256) and pipeline (hash) from an input of the same size and mtime.
    public func reusableResult(for input: InputFile, modelSHA256: String, pipelineHash: String) -> VideoResult? {
        guard let data = try? Data(contentsOf: resultURL(for: input.relativePath)),
              let r = try? JSONDecoder().decode(VideoResult.self, from: data),
              r.schemaVersion == resultSchemaVersion,
              r.model.sha256 == modelSHA256, r.pipeline.hash == pipelineHash,
              r.input.path == input.relativePath, r.input.size == input.size,
              r.input.modified == OutputLayout.isoTime(input.modified)
        else { return nil }
        return r
    }

    /// ISO 8601 UTC with millisecond precision.
    public static func isoTime(_ seconds: Double) -> String {
        isoFormatter.withLock { $0.string(from: Date(timeIntervalSince1970: seconds)) }
    }

    /// Made once: a formatter costs far more to make than to use (it was about 1% of a run's CPU
    /// made per call), and the lock keeps one formatter safe to share between stages.
    private static let isoFormatter: Locked<ISO8601DateFormatter> = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return Locked(f)
    }()
}
