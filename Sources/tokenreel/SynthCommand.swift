import ArgumentParser
import Foundation
import TokenReelMedia
import TokenReelSynth

/// `tokenreel synth`: generators of labelled synthetic video sets.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate labelled synthetic video sets.",
        subcommands: [Motion10Command.self]
    )
}

/// A frame size written as WIDTHxHEIGHT.
struct FrameSizeArgument: ExpressibleByArgument, CustomStringConvertible {
    var width: Int
    var height: Int
    var description: String { "\(width)x\(height)" }
    var defaultValueDescription: String { description }
    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else { return nil }
        width = w; height = h
    }
}

extension WriterCodec: ExpressibleByArgument {}

/// `tokenreel synth motion10`: renders and encodes a Motion10 set (shared/MOTION10.md).
struct Motion10Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "motion10",
        abstract: "Render a Motion10 set: OUT/<class>/<class>-NNNN.<ext> and OUT/labels.jsonl.",
        discussion: """
        Every clip honours the Motion10 contract and varies shapes, colours, backgrounds, noise, \
        sizes, speeds, positions, frame rates and resolutions. Clip i of a class depends only on \
        --seed, the class and i (and the size/rate limits), so a bigger --per-class keeps the \
        smaller set's clips. Same arguments, same FFmpeg build: byte-identical files.
        """
    )

    @Option(name: .long, help: "Output directory (created; existing clips of the same names are overwritten).")
    var out: String

    @Option(name: .long, help: "Clips per class.")
    var perClass: Int

    @Option(name: .long, help: "Seed (unsigned 64-bit integer).")
    var seed: UInt64 = 0

    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Codecs, comma- or space-separated, assigned round-robin: h264 (mp4), mpeg4 (avi), mjpeg (mov), vp9 (webm), hevc (mkv). Codecs this libavcodec lacks are skipped with a warning.", valueName: "codec"))
    var codecs: [String] = ["h264,mpeg4,mjpeg,vp9"]

    @Option(name: .long, help: ArgumentHelp("Classes to generate, comma-separated (default: all ten).", valueName: "class"))
    var classes: String?

    @Option(name: .long, help: ArgumentHelp("Smallest frame size WIDTHxHEIGHT (contract floor 96x96).", valueName: "WxH"))
    var minSize: FrameSizeArgument = FrameSizeArgument(argument: "96x96")!

    @Option(name: .long, help: ArgumentHelp("Largest frame size WIDTHxHEIGHT (contract ceiling 640x480).", valueName: "WxH"))
    var maxSize: FrameSizeArgument = FrameSizeArgument(argument: "640x480")!

    @Option(name: .long, help: "Lowest frame rate (contract: 12).")
    var minFps: Int = 12

    @Option(name: .long, help: "Highest frame rate (contract: 30).")
    var maxFps: Int = 30

    @Option(name: .long, help: ArgumentHelp("""
        Training data beyond the contract: draw each object at a factor in LO...HI (0 < LO <= HI <= 1) \
        times its contract size, for objects smaller than the contract's 15% of the short side \
        (default 1,1: the contract).
        """, valueName: "LO,HI"))
    var objectScale: String = "1,1"

    @Option(name: .long, help: ArgumentHelp("""
        Shape families: classic (arrow, L, F, notched triangle, irregular polygon, flag; the \
        bundled model's training sets), procedural (random smooth blobs and thick strokes along \
        random paths and arcs) or all. Anything but classic changes every clip of a seed.
        """, valueName: "set"))
    var shapes: String = "classic"

    @Option(name: .long, help: "Clips encoded in parallel.")
    var jobs: Int = 1

    @Flag(name: .long, help: "Print nothing on stderr but errors.")
    var quiet = false

    var constraints: Motion10Constraints {
        var c = Motion10Constraints()
        c.minWidth = minSize.width; c.minHeight = minSize.height
        c.maxWidth = maxSize.width; c.maxHeight = maxSize.height
        c.minFPS = minFps; c.maxFPS = maxFps
        if let scale = parsedObjectScale { c.objectScale = scale }
        if let set = ShapeSet(rawValue: shapes) { c.shapes = set }
        return c
    }

    /// `--object-scale LO,HI` as a range; nil when it is not two numbers with LO <= HI.
    var parsedObjectScale: ClosedRange<Double>? {
        let parts = objectScale.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo <= hi else { return nil }
        return lo ... hi
    }

    func parsedCodecs() throws -> [WriterCodec] {
        let names = codecs.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var list: [WriterCodec] = []
        for name in names {
            guard let codec = WriterCodec(rawValue: name) else {
                throw ValidationError("unknown codec '\(name)'; choose from \(WriterCodec.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !list.contains(codec) { list.append(codec) }
        }
        if list.isEmpty { throw ValidationError("--codecs names no codec") }
        return list
    }

    func parsedClasses() throws -> [Motion10Class] {
        guard let classes else { return Motion10Class.allCases }
        return try classes.split(separator: ",").map {
            let name = $0.trimmingCharacters(in: .whitespaces)
            guard let c = Motion10Class(rawValue: name) else {
                throw ValidationError("unknown class '\(name)'; Motion10 classes are \(Motion10Class.names.joined(separator: ", "))")
            }
            return c
        }
    }

    func validate() throws {
        if perClass < 1 { throw ValidationError("--per-class must be at least 1") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if ShapeSet(rawValue: shapes) == nil {
            throw ValidationError("--shapes takes \(ShapeSet.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(shapes)')")
        }
        if parsedObjectScale == nil { throw ValidationError("--object-scale takes LO,HI with LO <= HI, for example 0.5,1 (got '\(objectScale)')") }
        if let problem = constraints.problems().first { throw ValidationError(problem) }
        _ = try parsedCodecs()
        _ = try parsedClasses()
    }

    func run() throws {
        VideoWriter.quietLibraryLogs()
        var usable: [WriterCodec] = []
        for codec in try parsedCodecs() {
            if codec.isAvailable { usable.append(codec) } else {
                FileHandle.standardError.write(Data("synth: warning: encoder \(codec.encoderName) is not in this libavcodec; skipping \(codec.rawValue)\n".utf8))
            }
        }
        guard !usable.isEmpty else { throw ValidationError("none of the requested encoders is available in this libavcodec") }
        let dataset = Motion10Dataset(root: URL(fileURLWithPath: out), perClass: perClass, seed: seed, codecs: usable,
                                      classes: try parsedClasses(), constraints: constraints)
        let quiet = self.quiet
        let start = Date()
        let records = try dataset.generate(jobs: jobs) { done, total in
            if !quiet && (done == total || done % 10 == 0) {
                FileHandle.standardError.write(Data("synth: \(done)/\(total) clips\n".utf8))
            }
        }
        if !quiet {
            let seconds = Date().timeIntervalSince(start)
            FileHandle.standardError.write(Data(String(format: "synth: wrote %d clips and labels.jsonl to %@ in %.1f s\n", records.count, out, seconds).utf8))
        }
    }
}
