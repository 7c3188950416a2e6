import Foundation
import XCTest

/// Runs the `ffmpeg`/`ffprobe` command-line tools, the independent decoder our files are checked with.
enum FFmpegCLI {
    static func locate(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a tool and returns its stdout; fails the test (throws) on a non-zero exit.
    static func run(_ tool: String, _ arguments: [String]) throws -> Data {
        guard let path = locate(tool) else { throw XCTSkip("\(tool) is not on PATH (scripts/setup.sh installs it)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out; process.standardError = err
        try process.run()
        // Read both pipes before waiting so a large output cannot block the child.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: tool, code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(tool) \(arguments.joined(separator: " ")): \(String(decoding: errData, as: UTF8.self))"])
        }
        return data
    }

    struct StreamInfo { var codec: String; var width: Int; var height: Int; var frameRate: String; var frames: Int; var pixelFormat: String }

    /// The first video stream, with frames counted by decoding.
    static func probe(_ file: String) throws -> StreamInfo {
        let out = try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_frames",
                                      "-show_entries", "stream=codec_name,width,height,r_frame_rate,nb_read_frames,pix_fmt",
                                      "-of", "default=noprint_wrappers=1", file])
        var fields: [String: String] = [:]
        for line in String(decoding: out, as: UTF8.self).split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        return StreamInfo(codec: fields["codec_name"] ?? "", width: Int(fields["width"] ?? "") ?? -1,
                          height: Int(fields["height"] ?? "") ?? -1, frameRate: fields["r_frame_rate"] ?? "",
                          frames: Int(fields["nb_read_frames"] ?? "") ?? -1, pixelFormat: fields["pix_fmt"] ?? "")
    }

    /// Every frame decoded to RGB24 `[H, W, 3]` by the ffmpeg CLI, one per coded frame
    /// (no frame-rate conversion), display rotation applied as ffmpeg does by default.
    static func decodeRGB(_ file: String, width: Int, height: Int) throws -> [[UInt8]] {
        let data = try run("ffmpeg", ["-v", "error", "-i", file, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        let frameBytes = width * height * 3
        XCTAssertEqual(data.count % frameBytes, 0, "\(file): \(data.count) bytes is not a whole number of \(width)x\(height) frames")
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count - frameBytes + 1, by: frameBytes).map { Array(bytes[$0..<($0 + frameBytes)]) }
    }
}
