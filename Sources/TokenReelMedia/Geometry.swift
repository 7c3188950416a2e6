/// swscale's resampling filter for the resize.
public enum ScalingAlgorithm: String, Codable, Sendable, CaseIterable { case bilinear, bicubic, area, point, lanczos }

/// The model's input geometry: resize the displayed frame so its short side is `shortSide`,
/// then crop `cropWidth` x `cropHeight` (MMAction2's `Resize(-1, R)` + `CenterCrop`/`ThreeCrop`).
/// When the crop is larger than the resized frame in either direction, the frame is resized
/// just enough to cover it.
public struct FrameGeometry: Sendable, Equatable {
    public var shortSide: Int
    public var cropWidth: Int
    public var cropHeight: Int
    public var scaling: ScalingAlgorithm

    public init(shortSide: Int, cropWidth: Int, cropHeight: Int, scaling: ScalingAlgorithm = .bilinear) {
        self.shortSide = shortSide; self.cropWidth = cropWidth; self.cropHeight = cropHeight; self.scaling = scaling
    }

    /// Size of the resized displayed frame for a displayed `width` x `height` source
    /// (each side rounded to nearest, as mmcv's `rescale_size`).
    func resizedSize(displayWidth w: Int, displayHeight h: Int) -> (width: Int, height: Int) {
        var scale = Double(shortSide) / Double(min(w, h))
        scale = max(scale, Double(cropWidth) / Double(w), Double(cropHeight) / Double(h))
        return (max(cropWidth, Int(Double(w) * scale + 0.5)), max(cropHeight, Int(Double(h) * scale + 0.5)))
    }

    /// Top-left corner of the crop inside a resized frame of `width` x `height`. `start` and
    /// `end` move the crop along the long side (left/right or top/bottom) and centre it across.
    func cropOrigin(_ position: CropPosition, width: Int, height: Int) -> (x: Int, y: Int) {
        let cx = (width - cropWidth) / 2, cy = (height - cropHeight) / 2
        switch position {
        case .center: return (cx, cy)
        case .start: return width >= height ? (0, cy) : (cx, 0)
        case .end: return width >= height ? (width - cropWidth, cy) : (cx, height - cropHeight)
        }
    }

    func validate() throws {
        guard shortSide >= 1, cropWidth >= 1, cropHeight >= 1 else {
            throw SamplingError(description: "geometry: short side and crop sizes must be positive (got \(shortSide), \(cropWidth)x\(cropHeight))")
        }
    }
}

/// Decoder settings for one file.
public struct DecodeOptions: Sendable {
    /// Wall-clock budget (s) for opening a file, and again for each `decode` call; <= 0: none.
    /// Past it, FFmpeg's I/O is interrupted and decoding stops with a `.timeout` error.
    public var timeoutSeconds: Double
    /// Decoder threads per file. 1 (the default) gives the most frames per CPU-second when
    /// several files decode side by side; more enables FFmpeg's frame threading for one long file.
    public var threads: Int
    /// Let the decoder drop non-reference frames that provably hold no target (`skip_frame`,
    /// decided packet by packet). Frames stay exactly the same; off only for comparisons.
    public var skipUnneededFrames: Bool
    /// Seek to the keyframe before a target when the index shows it is ahead of the current
    /// position (or when going backwards); otherwise decode forward.
    public var allowSeeking: Bool

    public init(timeoutSeconds: Double = 60, threads: Int = 1, skipUnneededFrames: Bool = true, allowSeeking: Bool = true) {
        self.timeoutSeconds = timeoutSeconds
        self.threads = threads
        self.skipUnneededFrames = skipUnneededFrames
        self.allowSeeking = allowSeeking
    }
}

/// The frames of one clip, resized, cropped and rotated for display.
/// Dimension legend: T = `frames`, H = `height`, W = `width`, 3 = R, G, B.
public struct DecodedClip: Sendable {
    public var plan: ClipPlan
    public var frames: Int, height: Int, width: Int
    /// [T, H, W, 3] RGB24, row-major.
    public var pixels: [UInt8]
    /// Real presentation time (s, `best_effort_timestamp`) of the decoded frame used for each target.
    public var frameTimestamps: [Double]
}
