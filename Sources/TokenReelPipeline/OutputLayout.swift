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

    /// Writes `data` to `url` atomically (temporary file + fsync + rename), creating parent directories.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw posixError("create", tmp.path) }
        var ok = false
        defer { if !ok { unlink(tmp.path) } }
        try data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; close(fd); throw posixError("write", tmp.path) }
                off += n
            }
        }
        guard fsync(fd) == 0 else { close(fd); throw posixError("fsync", tmp.path) }
        close(fd)
        guard rename(tmp.path, url.path) == 0 else { throw posixError("rename", url.path) }
        ok = true
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
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: seconds))
    }
}
