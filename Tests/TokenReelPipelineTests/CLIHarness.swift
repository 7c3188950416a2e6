import Foundation
import XCTest
@testable import TokenReelPipeline

/// Runs the built `tokenreel` binary (the test target depends on the executable target, so
/// `swift test` builds it next to the test bundle).
enum CLI {
    /// The build products directory: where the test bundle lives.
    static var productsDirectory: URL {
        #if os(macOS)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        #endif
        return Bundle.main.bundleURL
    }

    static var binary: URL {
        let beside = productsDirectory.appendingPathComponent("tokenreel")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return TestPaths.repositoryRoot.appendingPathComponent(".build/debug/tokenreel")
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Starts the binary; the caller waits (or signals it).
    static func start(_ arguments: [String], environment: [String: String] = [:], cwd: URL? = nil) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["JOB_COMPLETION_INDEX", "TOKENREEL_SHARD_COUNT", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"] { env[key] = nil }
        env["COLUMNS"] = "80"
        env.merge(environment) { $1 }
        p.environment = env
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    static func finish(_ started: (Process, Pipe, Pipe)) -> Result {
        let (p, out, err) = started
        // Read both pipes before waiting so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        let o = Locked(Data()), e = Locked(Data())
        DispatchQueue.global().async(group: group) { let d = out.fileHandleForReading.readDataToEndOfFile(); o.withLock { $0 = d } }
        DispatchQueue.global().async(group: group) { let d = err.fileHandleForReading.readDataToEndOfFile(); e.withLock { $0 = d } }
        group.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o.withLock { $0 }, as: UTF8.self),
                      stderr: String(decoding: e.withLock { $0 }, as: UTF8.self))
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], cwd: URL? = nil) throws -> Result {
        finish(try start(arguments, environment: environment, cwd: cwd))
    }
}

/// Builds test videos with the `ffmpeg` CLI.
enum VideoFactory {
    static func ffmpeg(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + args
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let msg = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw StageFailure(kind: "ffmpeg", message: "ffmpeg \(args.joined(separator: " ")): \(String(decoding: msg, as: UTF8.self))")
        }
    }

    /// A short synthetic video: `pattern` is an lavfi source (testsrc2, smptebars, mandelbrot...).
    static func make(_ url: URL, pattern: String = "testsrc2", seconds: Double = 1.5, size: String = "96x64",
                     rate: Int = 12, codec: [String] = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ffmpeg(["-f", "lavfi", "-i", "\(pattern)=size=\(size):rate=\(rate)", "-t", "\(seconds)"] + codec + [url.path])
    }

    /// The test tree of the issue: several containers, same-named files in different folders,
    /// nested folders, a symlink loop, and broken inputs. Returns (good, broken) relative paths.
    static func makeTree(at root: URL) throws -> (good: [String], broken: [String]) {
        let fm = FileManager.default
        try make(root.appendingPathComponent("formats/h264.mp4"))
        try make(root.appendingPathComponent("formats/mpeg4.avi"), pattern: "smptebars", codec: ["-c:v", "mpeg4", "-q:v", "5"])
        try make(root.appendingPathComponent("formats/mjpeg.mov"), pattern: "rgbtestsrc", codec: ["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"])
        try make(root.appendingPathComponent("formats/h264.mkv"), pattern: "testsrc", seconds: 2.5, size: "64x96")
        try make(root.appendingPathComponent("formats/vp8.webm"), pattern: "smptehdbars", codec: ["-c:v", "libvpx", "-b:v", "200k"])
        try make(root.appendingPathComponent("a/clip.mp4"), pattern: "testsrc2")
        try make(root.appendingPathComponent("b/clip.mp4"), pattern: "mandelbrot")
        try make(root.appendingPathComponent("n1/n2/n3/deep.mp4"), pattern: "life", seconds: 1)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("n1/n2/loop").path, withDestinationPath: "../..")

        let bad = root.appendingPathComponent("bad")
        try fm.createDirectory(at: bad, withIntermediateDirectories: true)
        _ = fm.createFile(atPath: bad.appendingPathComponent("zero.mp4").path, contents: Data())
        var rng = SplitMix(seed: 42)
        _ = fm.createFile(atPath: bad.appendingPathComponent("random.mkv").path, contents: Data((0 ..< 20_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
        // Truncated: the first third of a valid mp4 (its index, written last, is gone).
        let whole = bad.appendingPathComponent(".whole.mp4")
        try make(whole, seconds: 3)
        let full = try Data(contentsOf: whole)
        try fm.removeItem(at: whole)
        _ = fm.createFile(atPath: bad.appendingPathComponent("truncated.mp4").path, contents: full.prefix(full.count / 3))
        try ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", bad.appendingPathComponent("audio-only.mp4").path])
        _ = fm.createFile(atPath: bad.appendingPathComponent("notes.mp4").path, contents: Data("this is a text file, not a video\n".utf8))
        _ = fm.createFile(atPath: root.appendingPathComponent("README.txt").path, contents: Data("not an input\n".utf8))
        return (["a/clip.mp4", "b/clip.mp4", "formats/h264.mkv", "formats/h264.mp4", "formats/mjpeg.mov", "formats/mpeg4.avi",
                 "formats/vp8.webm", "n1/n2/n3/deep.mp4"],
                ["bad/audio-only.mp4", "bad/notes.mp4", "bad/random.mkv", "bad/truncated.mp4", "bad/zero.mp4"])
    }
}

/// A tiny deterministic random generator for test bytes.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// JSON equality with a relative tolerance on numbers (batching across videos may change the
/// last bits of BLAS sums) and `timing` blocks ignored.
func approximatelyEqual(_ a: JSONValue, _ b: JSONValue, tolerance: Double = 1e-5, path: String = "$") -> String? {
    switch (a, b) {
    case let (.number(x), .number(y)):
        return abs(x - y) <= tolerance * max(1, abs(x), abs(y)) ? nil : "\(path): \(x) != \(y)"
    case let (.array(x), .array(y)):
        guard x.count == y.count else { return "\(path): \(x.count) != \(y.count) elements" }
        for (i, (u, v)) in zip(x, y).enumerated() { if let d = approximatelyEqual(u, v, tolerance: tolerance, path: "\(path)[\(i)]") { return d } }
        return nil
    case let (.object(x), .object(y)):
        guard Set(x.keys) == Set(y.keys) else { return "\(path): keys \(x.keys.sorted()) != \(y.keys.sorted())" }
        for k in x.keys.sorted() where k != "timing" {
            if let d = approximatelyEqual(x[k]!, y[k]!, tolerance: tolerance, path: "\(path).\(k)") { return d }
        }
        return nil
    default:
        return a == b ? nil : "\(path): \(a) != \(b)"
    }
}
