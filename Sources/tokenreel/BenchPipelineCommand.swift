import ArgumentParser
import Foundation
import TokenReelPipeline
#if canImport(Glibc)
import Glibc
#endif

/// `tokenreel bench pipeline`: the whole pipeline over a generated directory.
///
/// Prints videos/s and clips/s, each stage's busy time and the overlap (wall time over the
/// busiest stage's busy time per worker; <= 1.2 means the stages really run side by side), then
/// runs `--scale` times as many videos and compares peak memory (target: at most 1.2x). Each run
/// is a separate `tokenreel run` process, so each peak is its own. The peer, measured in the
/// same run, is the `ffmpeg` CLI decoding the same files to nothing, one file at a time.
struct BenchPipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Benchmark 'tokenreel run' on generated videos: throughput, stage overlap, flat memory."
    )

    @Option(help: "Videos in the smaller run.")
    var videos = 200

    @Option(help: "The larger run has this many times the videos.")
    var scale = 10

    @Option(help: "Seconds per generated video.")
    var seconds = 2.0

    @Option(help: "Size of the generated videos, WxH.")
    var size = "320x240"

    @Option(help: ArgumentHelp("Pipeline file (default: the bundled default).", valueName: "file"))
    var pipeline: String?

    @Option(help: ArgumentHelp("Work directory (default: a temporary one, removed afterwards).", valueName: "dir"))
    var workDir: String?

    func validate() throws {
        guard videos >= 1, scale >= 1, seconds > 0 else { throw ValidationError("--videos, --scale and --seconds must be positive") }
    }

    func run() throws {
        let pipelinePath = try pipeline ?? BundledPipelines.defaultPath()
        let work = URL(fileURLWithPath: workDir ?? NSTemporaryDirectory() + "tokenreel-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { if workDir == nil { try? FileManager.default.removeItem(at: work) } }

        // Eight distinct sources; the directories hold hard links to them, so 2000 inputs cost
        // no more disk than eight (each is still a separate input, decoded in full).
        let patterns = ["testsrc2", "smptebars", "rgbtestsrc", "testsrc", "mandelbrot", "life", "smptehdbars", "yuvtestsrc"]
        let sources = work.appendingPathComponent("sources")
        try FileManager.default.createDirectory(at: sources, withIntermediateDirectories: true)
        var sourceFiles: [URL] = []
        for (i, p) in patterns.enumerated() {
            let url = sources.appendingPathComponent("src\(i).mp4")
            if !FileManager.default.fileExists(atPath: url.path) {
                try Self.shell(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "\(p)=size=\(size):rate=25",
                                "-t", "\(seconds)", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", url.path])
            }
            sourceFiles.append(url)
        }
        func tree(_ n: Int) throws -> URL {
            let dir = work.appendingPathComponent("videos-\(n)")
            try? FileManager.default.removeItem(at: dir)
            for i in 0 ..< n {
                let sub = dir.appendingPathComponent(String(format: "d%02d", i % 50))
                try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
                let target = sub.appendingPathComponent(String(format: "v%05d.mp4", i))
                guard link(sourceFiles[i % sourceFiles.count].path, target.path) == 0 else {
                    try FileManager.default.copyItem(at: sourceFiles[i % sourceFiles.count], to: target); continue
                }
            }
            return dir
        }

        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        func runPipeline(_ input: URL) throws -> RunSummary {
            let out = work.appendingPathComponent("out-\(input.lastPathComponent)")
            try? FileManager.default.removeItem(at: out)
            let status = try Self.shell([exe, "run", input.path, "-o", out.path, "--pipeline", pipelinePath,
                                         "--progress", "never", "--log-level", "error"], allowFailure: true)
            guard status == 0 else { throw UsageFailure("tokenreel run exited \(status) on \(input.path)") }
            return try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: out.appendingPathComponent("summary.json")))
        }

        let small = try tree(videos)
        let s = try runPipeline(small)
        print("pipeline: \(pipelinePath)")
        print("videos: \(videos) x \(seconds) s \(size) h264 (hard links to \(sourceFiles.count) sources)")
        print(String(format: "tokenreel run: %.2f videos/s, %.2f clips/s, wall %.2f s", s.videosPerSecond, s.clipsPerSecond, s.wallSeconds))
        for name in ["decode", "tokenize", "infer", "write"] {
            guard let st = s.stages[name] else { continue }
            let padded = name.padding(toLength: 8, withPad: " ", startingAt: 0)
            print("  \(padded)" + String(format: " workers %d  busy %7.2f s  (%5.1f%% of wall per worker)", st.workers, st.busySeconds,
                                          100 * st.busySeconds / Double(max(st.workers, 1)) / max(s.wallSeconds, 1e-9)))
        }
        print(String(format: "overlap (wall / busiest stage's busy per worker): %.2f  (target <= 1.2)", s.overlap ?? .nan))

        // Peer: the ffmpeg CLI decoding every frame of the same files, one at a time.
        let peerCount = min(videos, 50)
        let files = (0 ..< peerCount).map { small.appendingPathComponent(String(format: "d%02d/v%05d.mp4", $0 % 50, $0)).path }
        let t0 = Date()
        for f in files { try Self.shell(["ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", "1", "-i", f, "-f", "null", "-"]) }
        let peerRate = Double(peerCount) / Date().timeIntervalSince(t0)
        print(String(format: "peer: ffmpeg CLI full decode, 1 thread, files in sequence: %.2f videos/s  -> tokenreel / ffmpeg = %.2fx",
                     peerRate, s.videosPerSecond / peerRate))

        if scale > 1 {
            let large = try tree(videos * scale)
            let l = try runPipeline(large)
            print(String(format: "memory: peak RSS %.1f MiB for %d videos, %.1f MiB for %d videos -> ratio %.2f (target <= 1.2)",
                         Double(s.peakRSSBytes) / 1_048_576, videos, Double(l.peakRSSBytes) / 1_048_576, videos * scale,
                         Double(l.peakRSSBytes) / Double(max(s.peakRSSBytes, 1))))
            print(String(format: "larger run: %.2f videos/s, %.2f clips/s, overlap %.2f", l.videosPerSecond, l.clipsPerSecond, l.overlap ?? .nan))
        }
    }

    @discardableResult
    static func shell(_ args: [String], allowFailure: Bool = false) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        if !allowFailure && p.terminationStatus != 0 { throw UsageFailure("\(args.joined(separator: " ")) exited \(p.terminationStatus)") }
        return p.terminationStatus
    }
}
