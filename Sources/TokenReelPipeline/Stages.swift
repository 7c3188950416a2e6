import Foundation

// The work each stage does, as small protocols. The engine (Engine.swift) only sees these, so
// queues, batching, resume and output are tested with deterministic doubles, and the real
// adapters over TokenReelMedia and TokenReelModel live in one file (Adapters.swift). The
// early-exit cascade (Cascade.swift) is a `ClipModel` made of `ClipModel`s.
//
// Dimension legend: T frames per clip, H x W pixels of the crop, 3 RGB channels,
// B clips per inference batch, C classes.

/// One sampled clip, decoded, resized and cropped: what the decode stage hands to tokenize.
public struct ClipFrames: Sendable {
    /// Position of the clip in the video's sampling plan (0-based, plan order).
    public var index: Int
    /// Window start and end, seconds of presentation time.
    public var start: Double
    public var end: Double
    /// The T target presentation times of the plan (s).
    public var timestamps: [Double]
    /// The presentation times (s) of the frames actually decoded, one per target.
    public var frameTimestamps: [Double]
    /// Spatial crop position (`center`, `start`, `end`).
    public var crop: String
    /// True when the video had fewer than T frames and frames were repeated.
    public var repeatedFrames: Bool
    /// T x H x W x 3 RGB24, row-major.
    public var pixels: [UInt8]
    public var frames: Int
    public var height: Int
    public var width: Int
    /// Only the clip's first `frames` frames (`timestamps` and `frameTimestamps` are theirs): what
    /// the decoder gives a model whose first stages need no more (``ClipModel/prefixFrames``).
    public var isPrefix = false
    /// The whole clip after its prefix left the model unsure: what the stages that ran on the
    /// prefix concluded (``ClipOutput/needsWholeClip``); the model goes on from there.
    public var earlier: ClipOutput?

    public init(index: Int, start: Double, end: Double, timestamps: [Double], frameTimestamps: [Double],
                crop: String, repeatedFrames: Bool, pixels: [UInt8], frames: Int, height: Int, width: Int) {
        self.index = index; self.start = start; self.end = end; self.timestamps = timestamps
        self.frameTimestamps = frameTimestamps; self.crop = crop; self.repeatedFrames = repeatedFrames
        self.pixels = pixels; self.frames = frames; self.height = height; self.width = width
    }

    /// The clip's first `count` frames (at most all of them), marked ``isPrefix``.
    public func prefix(_ count: Int) -> ClipFrames {
        let n = min(max(count, 0), frames)
        var out = self
        out.frames = n
        out.pixels = Array(pixels.prefix(n * height * width * 3))
        out.timestamps = Array(timestamps.prefix(n))
        out.frameTimestamps = Array(frameTimestamps.prefix(n))
        out.isPrefix = true
        return out
    }
}

/// What the decoder learnt about a video before decoding any clip.
public struct ProbeReport: Sendable {
    /// The probe as JSON (the media module's `VideoInfo`, passed through to the result).
    public var probe: JSONValue
    /// How many clips the sampling plan has; the decoder calls `clip` exactly this many times
    /// unless it throws.
    public var clipCount: Int

    public init(probe: JSONValue, clipCount: Int) {
        self.probe = probe; self.clipCount = clipCount
    }
}

/// A per-file failure: becomes the `error` block of that file's result.
public struct StageFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Machine-readable kind: the media module's kinds (`not_media`, `corrupt`, `truncated`,
    /// `timeout`, ...) or the pipeline's own (`no_clips`, `model_output`, `internal`).
    public var kind: String
    public var message: String

    public init(kind: String, message: String) { self.kind = kind; self.message = message }
    public var description: String { "\(kind): \(message)" }
}

/// The decode stage: opens a file, plans its clips and decodes them one at a time.
///
/// Called from several decode workers at once (one file each); implementations keep no shared
/// mutable state. Blocking is expected (it runs on a dedicated worker thread).
public protocol VideoDecoding: Sendable {
    /// Opens `path`, calls `opened` once with the probe and the plan's clip count, then calls
    /// `clip` once per planned clip, in plan order. Throws ``StageFailure`` for a bad file;
    /// rethrows what `clip` throws.
    func decode(path: String, opened: (ProbeReport) throws -> Void, clip: (ClipFrames) throws -> Void) throws
    /// A one-clip video in two parts (see the default implementation below).
    func decode(path: String, firstFrames: Int, opened: (ProbeReport) throws -> Void,
                prefix: (ClipFrames, ClipRest) throws -> Void) throws
}

/// The rest of a clip whose first frames were decoded on their own
/// (``VideoDecoding/decode(path:firstFrames:opened:prefix:)``). Holds the open file and decoder
/// state until it is decoded or released.
public protocol ClipRest: AnyObject, Sendable {
    /// Decodes the rest; returns the whole clip (the prefix's frames too). Called at most once,
    /// from any thread. Throws ``StageFailure`` for a bad file.
    func decode() throws -> ClipFrames
}

extension VideoDecoding {
    /// `decode(path:...)` on a discovered file, opened by a path that works even when its name
    /// is not UTF-8 (``InputFile/withOpenablePath(_:)``): what every stage that decodes calls.
    public func decode(_ input: InputFile, opened: (ProbeReport) throws -> Void, clip: (ClipFrames) throws -> Void) throws {
        try input.withOpenablePath { path in try decode(path: path, opened: opened, clip: clip) }
    }

    /// `decode(path:firstFrames:...)` on a discovered file (see ``InputFile/withOpenablePath(_:)``).
    public func decode(_ input: InputFile, firstFrames: Int, opened: (ProbeReport) throws -> Void,
                       prefix: (ClipFrames, ClipRest) throws -> Void) throws {
        try input.withOpenablePath { path in try decode(path: path, firstFrames: firstFrames, opened: opened, prefix: prefix) }
    }

    /// A one-clip video in two parts, for a model whose first stages need only the clip's first
    /// `firstFrames` frames (``ClipModel/prefixFrames``): opens and probes as `decode(path:...)`,
    /// then calls `prefix` once with those frames (``ClipFrames/isPrefix``) and the rest, which
    /// the caller decodes only if it must. Plans of more than one clip are a ``StageFailure``
    /// (`sampling`). This default decodes the whole clip at once (correct, saves nothing);
    /// ``MediaDecoder`` stops after the prefix.
    public func decode(path: String, firstFrames: Int, opened: (ProbeReport) throws -> Void,
                       prefix: (ClipFrames, ClipRest) throws -> Void) throws {
        var whole: ClipFrames?
        try decode(path: path, opened: { report in
            try opened(report)
            if report.clipCount > 1 { throw StageFailure.notOneClip(path: path, clips: report.clipCount) }
        }, clip: { whole = $0 })
        if let whole { try prefix(whole.prefix(firstFrames), DecodedRest(whole)) }
    }
}

/// A ``ClipRest`` already decoded.
final class DecodedRest: ClipRest, @unchecked Sendable {
    let whole: ClipFrames
    init(_ whole: ClipFrames) { self.whole = whole }
    func decode() throws -> ClipFrames { whole }
}

extension StageFailure {
    /// A prefix cascade met a video whose sampling plan has several clips.
    static func notOneClip(path: String, clips: Int) -> StageFailure {
        StageFailure(kind: "sampling", message: "\(path): the sampling plan has \(clips) clips; a cascade whose first stages see the start of the clip (first_frames) takes one clip per video")
    }
}

/// What the infer stage learnt about one clip.
public struct ClipOutput: Sendable, Equatable {
    /// C logits, from the stage the clip exited at (a single model: the model's).
    public var logits: [Float]
    /// The cascade stage the clip exited at (0-based); nil for a single model.
    public var exitStage: Int?
    /// Matrix-product FLOPs actually spent on this clip: the sum over the stages it ran.
    public var flops: Int
    /// A cascade's logits at every stage the clip ran, in stage order (the last are `logits`);
    /// empty for a single model.
    public var stageLogits: [[Float]]
    /// The clip was a prefix (``ClipFrames/isPrefix``) and the stages that take a prefix were
    /// not sure of it: the engine decodes the whole clip and runs the model again on it, with
    /// this output as ``ClipFrames/earlier``. `logits` and `exitStage` mean nothing yet.
    public var needsWholeClip = false

    public init(logits: [Float], exitStage: Int? = nil, flops: Int, stageLogits: [[Float]] = [], needsWholeClip: Bool = false) {
        self.logits = logits; self.exitStage = exitStage; self.flops = flops; self.stageLogits = stageLogits
        self.needsWholeClip = needsWholeClip
    }
}

/// The tokenize and infer stages: a model shared (immutable) by every worker, each worker
/// holding its own scratch `Workspace`.
public protocol ClipModel: Sendable {
    /// One clip's tokens (e.g. [N, D] floats), passed from tokenize to infer.
    associatedtype Tokens: Sendable
    /// Per-worker scratch memory; never shared between threads.
    associatedtype Workspace

    /// A name for results (the weights file's base name).
    var name: String { get }
    /// Hex SHA-256 of the weights file.
    var sha256: String { get }
    /// Class names, C of them, in logit order.
    var labels: [String] { get }

    /// Stages a clip can exit at: 1 for a single model, the number of stages for a cascade.
    var stageCount: Int { get }
    /// FLOPs per clip of the full model: a single model's own, a cascade's last stage alone
    /// (what every clip would cost without early exits).
    var fullFlopsPerClip: Int { get }

    func makeWorkspace() -> Workspace
    /// Tokenize stage: clip pixels -> tokens. Throws ``StageFailure`` for a clip it cannot take
    /// (the video becomes an error record).
    func embed(_ clip: ClipFrames, workspace: Workspace) throws -> Tokens
    /// Infer stage: B token sets -> B outputs, in batch order. A failure fails only its clip
    /// (and so its video).
    func classify(_ batch: [Tokens], workspace: Workspace) -> [Result<ClipOutput, StageFailure>]
    /// Frames a clip's first stages need when fewer than the whole clip (a cascade whose first
    /// stages see its start); nil: the whole clip. The engine then decodes one-clip videos in two
    /// parts: the prefix first, the rest only for clips whose output ``ClipOutput/needsWholeClip``.
    var prefixFrames: Int? { get }
}

extension ClipModel {
    public var prefixFrames: Int? { nil }
}

extension ClipFrames {
    /// The clip with its frames (and their timestamps) in a pseudo-random order that depends only
    /// on `seed` (the decoder passes a hash of the file's name), the clip's index and its length:
    /// the same on every machine and every run, and a different order from video to video, so no
    /// one permutation's leftover order (frame 0 still before frame 15, say) is shared by a whole
    /// set. Used as a temporal control: a model that reads the order of frames must lose accuracy
    /// on the direction classes, while one that reads single frames would not.
    public func shuffled(seed: UInt64 = 0) -> ClipFrames {
        var order = Array(0..<frames)
        var state = 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1) &+ UInt64(frames) &+ seed &* 0xD1B5_4A32_D192_ED03
        func next() -> UInt64 {                                    // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for i in stride(from: frames - 1, to: 0, by: -1) { order.swapAt(i, Int(next() % UInt64(i + 1))) }
        let frameSize = height * width * 3
        var out = self
        out.pixels = [UInt8](repeating: 0, count: pixels.count)
        for (to, from) in order.enumerated() {
            out.pixels[(to * frameSize)..<((to + 1) * frameSize)] = pixels[(from * frameSize)..<((from + 1) * frameSize)]
        }
        out.frameTimestamps = order.map { frameTimestamps[$0] }
        return out
    }
}
