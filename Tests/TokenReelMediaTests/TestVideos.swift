import Foundation
import XCTest
@testable import TokenReelMedia

/// Test videos made at test time by the `ffmpeg` CLI, cached per test process.
///
/// Every frame carries its own index: the frame is a 4x4 grid of cells, cell b (row-major) is
/// white when bit b of the index is set, black otherwise (16 bits, robust to lossy codecs and
/// to resizing). `frameIndex(in:)` reads it back from decoded RGB.
enum TestVideos {
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenreel-media-tests-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TestVideos.directory) }
        return url
    }()

    private static let lock = NSLock()
    /// The arguments each cached file was made with (under `lock`).
    nonisolated(unsafe) private static var madeWith: [String: [String]] = [:]

    /// lavfi source of `frames` frames at `rate` fps whose pixels encode the frame index.
    static func indexSource(width: Int = 64, height: Int = 48, rate: Int = 25, frames: Int) -> String {
        let bits = "floor(X*4/W)+4*floor(Y*4/H)"
        return "color=c=black:s=\(width)x\(height):r=\(rate),format=yuv444p,"
            + "geq=lum='16+219*mod(floor(N/pow(2\\,\(bits)))\\,2)':cb=128:cr=128,trim=end_frame=\(frames)"
    }

    /// Runs `ffmpeg -y -v error <args> <file>` once per process and returns the file's path.
    @discardableResult
    static func make(_ name: String, _ args: [String]) throws -> String {
        lock.lock(); defer { lock.unlock() }
        let path = directory.appendingPathComponent(name).path
        // Files are cached by name: two tests asking for one name with different arguments would
        // silently share the first one's video.
        if let previous = madeWith[name] {
            precondition(previous == args, "test video \(name) asked for with other arguments: \(previous) and \(args)")
        }
        madeWith[name] = args
        if FileManager.default.fileExists(atPath: path) { return path }
        let partial = directory.appendingPathComponent("partial-" + name).path
        try run("ffmpeg", ["-nostdin", "-y", "-v", "error"] + args + [partial])
        try FileManager.default.moveItem(atPath: partial, toPath: path)
        return path
    }

    /// An index-carrying video: `filters` go after the index source, `codec` are the output options.
    static func indexed(_ name: String, width: Int = 64, height: Int = 48, rate: Int = 25, frames: Int,
                        filters: String = "", codec: [String]) throws -> String {
        let graph = indexSource(width: width, height: height, rate: rate, frames: frames) + (filters.isEmpty ? "" : "," + filters)
        return try make(name, ["-f", "lavfi", "-i", graph] + codec)
    }

    @discardableResult
    static func run(_ tool: String, _ args: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            throw NSError(domain: tool, code: Int(process.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: "\(tool) \(args.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))"])
        }
        return data
    }

    /// FFmpeg's own per-frame presentation times (best_effort_timestamp, seconds), in output order.
    static func frameTimes(_ path: String) throws -> [Double] {
        let csv = try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                      "frame=best_effort_timestamp_time", "-of", "csv=p=0", path])
        let fields = String(decoding: csv, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ", ")) }.filter { !$0.isEmpty }
        if !fields.isEmpty && fields.allSatisfy({ $0 == "N/A" }) {
            // Raw streams have no timestamps: FFmpeg's demuxer assumes 25 fps, frame k at k / 25.
            return fields.indices.map { Double($0) / 25 }
        }
        return fields.compactMap(Double.init)
    }

    /// The index (position in `times`) of the frame whose presentation interval holds `t`:
    /// the last frame starting at or before t (the first frame for earlier t).
    static func expectedFrame(for t: Double, times: [Double]) -> Int {
        var pick = 0
        for (i, start) in times.enumerated() where start <= t + 1e-9 { pick = i }
        return pick
    }

    /// Reads the 16-bit index pattern from frame `j` of a clip that shows the whole frame.
    static func frameIndex(_ clip: DecodedClip, frame j: Int) -> Int {
        var index = 0
        for b in 0..<16 {
            let cx = b % 4, cy = b / 4
            let x = Int((Double(cx) + 0.5) * Double(clip.width) / 4)
            let y = Int((Double(cy) + 0.5) * Double(clip.height) / 4)
            let offset = ((j * clip.height + y) * clip.width + x) * 3
            let luma = (Int(clip.pixels[offset]) + Int(clip.pixels[offset + 1]) + Int(clip.pixels[offset + 2])) / 3
            if luma > 128 { index |= 1 << b }
        }
        return index
    }

    /// Geometry that keeps the whole displayed frame (no crop loss) at its own size.
    static func wholeFrame(_ info: VideoInfo) -> FrameGeometry {
        FrameGeometry(shortSide: min(info.displayWidth, info.displayHeight), cropWidth: info.displayWidth, cropHeight: info.displayHeight)
    }

    /// Decodes `plan` and returns every clip.
    static func decodeAll(_ path: String, _ mode: SamplingMode, geometry: ((VideoInfo) -> FrameGeometry)? = nil,
                          options: DecodeOptions = .init()) throws -> (VideoReader, SamplingPlan, [DecodedClip]) {
        let reader = try VideoReader(path: path, options: options)
        let plan = try SamplingPlan.make(for: reader.info, mode: mode)
        var clips: [DecodedClip] = []
        try reader.decode(plan, geometry: geometry?(reader.info) ?? wholeFrame(reader.info)) { clips.append($0) }
        return (reader, plan, clips)
    }
}
