import ArgumentParser
import Foundation
import TokenReelMedia
#if canImport(Glibc)
import Glibc
#endif

/// `tokenreel bench decode`: videos per second for T-frame `uniform` sampling at SIZE x SIZE,
/// next to, in the same run, the ffmpeg CLI decoding every frame, PyAV and decord.
struct BenchDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode benchmark: TokenReel vs the ffmpeg CLI's full decode, PyAV and decord, in the same run.",
        discussion: """
            Make the issue's video set with Benchmarks/decode/make-videos.sh and the peers' venv with \
            Benchmarks/decode/setup-peers.sh, then run `tokenreel bench decode` (release build) from \
            the repository root. Every tool decodes one file at a time with --threads decoder threads; \
            figures are medians over --repeat runs, per wall-clock second and per CPU-second (user + \
            system, all threads; the fair figure on a shared machine). The tables (Markdown) go to \
            stdout, progress to stderr.
            """
    )

    @Argument(help: "Videos to decode (default: every file in Benchmarks/data/decode).")
    var files: [String] = []

    @Option(help: "Frames per video (uniform sampling).")
    var frames = 16

    @Option(help: "Output size: short side resized to SIZE, centre crop SIZE x SIZE (peers resize to SIZE x SIZE).")
    var size = 112

    @Option(name: .customLong("repeat"), help: "Runs per tool and file; the median is reported.")
    var repeats = 3

    @Option(help: "Decoder threads per file, for every tool.")
    var threads = 1

    @Option(help: "Python with PyAV and decord (Benchmarks/decode/setup-peers.sh makes it).")
    var python = "Benchmarks/.venv/bin/python"

    @Option(help: "The peers' script.")
    var peersScript = "Benchmarks/decode/peers.py"

    @Flag(help: "Skip PyAV and decord.")
    var noPeers = false

    @Flag(help: "Disable skipping non-reference frames (to see what it wins).")
    var noSkip = false

    @Flag(help: "Disable seeking (to see what it wins).")
    var noSeek = false

    func validate() throws {
        guard frames >= 1, size >= 1, repeats >= 1, threads >= 1 else {
            throw ValidationError("--frames, --size, --repeat and --threads must be positive")
        }
    }

    struct Row {
        var file: String
        var frameCount = 0
        var decoded = 0
        /// Median (wall s, CPU s) per tool.
        var ours = Cost()
        var ffmpeg = Cost()
        var peers: [String: Cost] = [:]
        var peerErrors: [String: String] = [:]
        var oursPTS: [Double] = []
        var statistics: VideoReader.Statistics?
        var peerPTS: [String: [Double]] = [:]
    }

    func run() throws {
        let paths = try files.isEmpty ? defaultFiles() : files
        guard !paths.isEmpty else {
            throw ValidationError("no videos: run Benchmarks/decode/make-videos.sh or pass files")
        }
        var rows: [Row] = []
        for path in paths {
            var row = Row(file: path)
            progress("tokenreel: \(path)")
            row.ours = .median(try (0..<repeats).map { _ in try measure(.self) { try decodeOurs(path, into: &row) } })
            progress("  \(row.statistics.map { "\($0)" } ?? "")")
            progress("ffmpeg -f null: \(path)")
            row.ffmpeg = .median(try (0..<repeats).map { _ in
                try measure(.children) {
                    try runTool("ffmpeg", ["-nostdin", "-v", "error", "-threads", "\(threads)", "-i", path, "-f", "null", "-"])
                }
            })
            rows.append(row)
        }
        if !noPeers { try runPeers(&rows) }
        print(table(rows, "wall-clock second", \.wall))
        print()
        print(table(rows, "CPU-second", \.cpu))
    }

    private func decodeOurs(_ path: String, into row: inout Row) throws {
        let options = DecodeOptions(threads: threads, skipUnneededFrames: !noSkip, allowSeeking: !noSeek)
        let reader = try VideoReader(path: path, options: options)
        let plan = try SamplingPlan.make(for: reader.info, mode: .uniform(frames: frames))
        var pts: [Double] = []
        try reader.decode(plan, geometry: FrameGeometry(shortSide: size, cropWidth: size, cropHeight: size)) { pts += $0.frameTimestamps }
        row.frameCount = reader.info.frameCount
        row.decoded = reader.statistics.framesDecoded
        row.statistics = reader.statistics
        row.oursPTS = pts
    }

    private func runPeers(_ rows: inout [Row]) throws {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            progress("peers skipped: \(python) not found (run Benchmarks/decode/setup-peers.sh)")
            return
        }
        progress("PyAV and decord ...")
        let output = try runTool(python, [peersScript, "--frames", "\(frames)", "--size", "\(size)", "--repeat", "\(repeats)",
                                          "--threads", "\(threads)"] + rows.map(\.file))
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let file = object["file"] as? String, let tool = object["tool"] as? String,
                  let i = rows.firstIndex(where: { $0.file == file }) else { continue }
            if let error = object["error"] as? String { rows[i].peerErrors[tool] = error; continue }
            rows[i].peers[tool] = Cost(wall: object["median"] as? Double ?? .nan, cpu: object["cpu_median"] as? Double ?? .nan)
            rows[i].peerPTS[tool] = object["pts"] as? [Double]
        }
    }

    private func table(_ rows: [Row], _ unit: String, _ metric: KeyPath<Cost, Double>) -> String {
        func rate(_ seconds: Double?) -> String {
            guard let seconds, seconds.isFinite, seconds > 0 else { return "-" }
            return String(format: "%.2f", 1 / seconds)
        }
        func ratio(_ a: Double, _ b: Double?) -> String {
            guard let b, b.isFinite, a.isFinite, a > 0 else { return "-" }
            return String(format: "%.2fx", b / a)
        }
        func agree(_ row: Row, _ tool: String) -> String {
            if let error = row.peerErrors[tool] { return "fails (\(error.prefix(40)))" }
            guard let theirs = row.peerPTS[tool], theirs.count == row.oursPTS.count else { return "-" }
            let same = zip(theirs, row.oursPTS).filter { abs($0 - $1) < 1e-3 }.count
            return "\(same)/\(theirs.count)"
        }
        var lines = [
            "Videos per \(unit) (median of \(repeats)), \(frames) frames uniform at \(size)x\(size), \(threads) decoder thread(s) per file.",
            "",
            "| file | frames decoded / total | ffmpeg CLI full decode | TokenReel | PyAV | decord | TokenReel / ffmpeg | TokenReel / best peer | same frames as PyAV | as decord |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows {
            let pyav = row.peers["pyav"]?[keyPath: metric], decord = row.peers["decord"]?[keyPath: metric]
            let best = [pyav, decord].compactMap { $0 }.filter(\.isFinite).min()   // the faster peer
            let ours = row.ours[keyPath: metric], ffmpeg = row.ffmpeg[keyPath: metric]
            lines.append("| \((row.file as NSString).lastPathComponent) | \(row.decoded) / \(row.frameCount) | \(rate(ffmpeg)) | \(rate(ours)) "
                + "| \(rate(pyav)) | \(rate(decord)) | \(ratio(ours, ffmpeg)) | \(ratio(ours, best)) "
                + "| \(agree(row, "pyav")) | \(agree(row, "decord")) |")
        }
        return lines.joined(separator: "\n")
    }

    private func defaultFiles() throws -> [String] {
        let directory = "Benchmarks/data/decode"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix("partial-") }.sorted().map { "\(directory)/\($0)" }
    }

    /// Wall-clock and CPU seconds of one run.
    struct Cost {
        var wall: Double = .nan
        var cpu: Double = .nan

        static func median(_ runs: [Cost]) -> Cost {
            func mid(_ values: [Double]) -> Double {
                let v = values.sorted()
                return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
            }
            return Cost(wall: mid(runs.map(\.wall)), cpu: mid(runs.map(\.cpu)))
        }
    }

    enum Who { case `self`, children }

    /// Times `body`: wall clock, and CPU (user + system) of this process or of its waited-for children.
    private func measure(_ who: Who, _ body: () throws -> Void) rethrows -> Cost {
        func cpu() -> Double {
            var usage = rusage()
            getrusage((who == .self ? RUSAGE_SELF : RUSAGE_CHILDREN).rawValue, &usage)
            func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
            return seconds(usage.ru_utime) + seconds(usage.ru_stime)
        }
        let start = DispatchTime.now().uptimeNanoseconds, startCPU = cpu()
        try body()
        return Cost(wall: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, cpu: cpu() - startCPU)
    }

    private func progress(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    @discardableResult
    private func runTool(_ tool: String, _ args: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool.contains("/") ? tool : "/usr/bin/env")
        process.arguments = tool.contains("/") ? args : [tool] + args
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(tool) \(args.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return data
    }
}
