import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One input file found by the discover stage.
public struct InputFile: Sendable, Equatable {
    /// Path relative to the input root, `/`-separated; the key for output names and shards.
    public var relativePath: String
    /// Absolute path to open (through symlinks as found).
    public var path: String
    public var size: Int64
    /// Modification time, seconds since 1970.
    public var modified: Double
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
        func visit(_ dir: String, _ rel: String) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
            for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) where !name.hasPrefix(".") {
                let full = dir + "/" + name
                let relPath = rel.isEmpty ? name : rel + "/" + name
                var s = stat()
                if stat(full, &s) != 0 {
                    // Dangling link or vanished file: keep it when it looks like a video.
                    if wanted.contains((name as NSString).pathExtension.lowercased()) {
                        found.append(InputFile(relativePath: relPath, path: full, size: 0, modified: 0))
                    }
                    continue
                }
                switch s.st_mode & S_IFMT {
                case S_IFDIR:
                    let id = FileID(s)
                    if id == excluded || onPath.contains(id) { continue }
                    onPath.insert(id)
                    visit(full, relPath)
                    onPath.remove(id)
                case S_IFREG:
                    guard wanted.contains((name as NSString).pathExtension.lowercased()) else { continue }
                    let mtime = Double(s.st_mtim.tv_sec) + Double(s.st_mtim.tv_nsec) / 1e9
                    found.append(InputFile(relativePath: relPath, path: full, size: Int64(s.st_size), modified: mtime))
                default:
                    continue
                }
            }
        }
        visit(rootURL.path, "")
        return found
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
