// Sampling plans: which presentation times each clip needs, computed from `VideoInfo` alone,
// before anything is decoded. Times are seconds on the video stream's presentation clock
// (the first frame is at `info.startTime`).
//
// Every clip's T targets are the centres of T equal segments of the clip's span
// [start, end): t_j = start + (j + 0.5) (end - start) / T. On a constant-frame-rate video this
// is exactly MMAction2's test-mode `SampleFrames(clip_len=1, num_clips=T)` index
// floor((j + 0.5) N / T) once the reader picks the frame whose presentation interval holds t_j.

/// What happens to the last window of `sliding` sampling when it would run past the end.
public enum SlidingTail: String, Codable, Sendable {
    /// Leave the uncovered tail out.
    case drop
    /// Add one last full window that ends at the end of the video.
    case shift
    /// Add one last window starting a stride later; its targets past the end repeat the last frame.
    case pad
}

/// How clips and their frames are chosen.
public enum SamplingMode: Sendable, Equatable {
    /// One clip spanning the whole video, `frames` targets spread evenly over it.
    case uniform(frames: Int)
    /// Clips of `clipSeconds` every `strideSeconds`, `frames` targets each; `tail` says what
    /// happens to a last partial window. A video shorter than one window gives one clip over it.
    case sliding(frames: Int, clipSeconds: Double, strideSeconds: Double, tail: SlidingTail)
    /// `clips` evenly spaced clips (ViViT's multi-view evaluation): with `clipSeconds == nil` the
    /// video is cut into `clips` equal parts; otherwise windows of `clipSeconds` are spread from
    /// the start to the end. `spatialCrops == 3` repeats every clip with crops start, center, end.
    case multiview(frames: Int, clips: Int, clipSeconds: Double?, spatialCrops: Int)
}

/// Where a crop sits along the long side of the resized frame (start = left or top).
public enum CropPosition: String, Codable, Sendable { case center, start, end }

/// One clip of a plan: T target presentation times and the crop to take.
public struct ClipPlan: Codable, Sendable, Equatable {
    public var index: Int
    /// Span of the clip (s, presentation time); targets lie inside it.
    public var start: Double
    public var end: Double
    /// T target presentation times (s), ascending.
    public var timestamps: [Double]
    public var crop: CropPosition
    /// The clip spans fewer than T frames, so some frames are used more than once (deterministically:
    /// the frame whose presentation interval holds each target).
    public var repeatedFrames: Bool

    public init(index: Int, start: Double, end: Double, timestamps: [Double], crop: CropPosition, repeatedFrames: Bool) {
        self.index = index; self.start = start; self.end = end
        self.timestamps = timestamps; self.crop = crop; self.repeatedFrames = repeatedFrames
    }
}

/// Invalid sampling parameters (a configuration error, not a media error).
public struct SamplingError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The clips a video is cut into, in the order the reader delivers them.
public struct SamplingPlan: Codable, Sendable, Equatable {
    public var clips: [ClipPlan]

    public init(clips: [ClipPlan]) { self.clips = clips }

    /// Computes the plan for `info` (no decoding).
    /// - Throws: `SamplingError` for invalid parameters; `MediaError` (`.corrupt`) when the
    ///   video's duration is unknown.
    public static func make(for info: VideoInfo, mode: SamplingMode) throws -> SamplingPlan {
        let interval = info.frameInterval
        var length = info.duration
        if length <= 0, info.frameCount > 0 { length = Double(info.frameCount) * interval }
        guard length > 0, length.isFinite else {
            throw MediaError(kind: .corrupt, path: info.path, message: "cannot plan clips: the video's duration is unknown")
        }
        let start = info.startTime, end = info.startTime + length
        /// Targets after the last frame's start are moved onto the last frame.
        let lastFrame = max(start, end - interval / 2)

        func clip(_ s: Double, _ e: Double, frames: Int, crop: CropPosition = .center) -> ClipPlan {
            let step = (e - s) / Double(frames)
            var padded = false
            let times = (0..<frames).map { j -> Double in
                let t = s + (Double(j) + 0.5) * step
                if t > lastFrame { padded = true; return lastFrame }
                return t
            }
            let framesSpanned = Int((((min(e, end) - s) / interval) + 1e-6).rounded(.down))
            return ClipPlan(index: 0, start: s, end: e, timestamps: times, crop: crop,
                            repeatedFrames: padded || framesSpanned < frames)
        }
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw SamplingError(description: message) } }
        let eps = 1e-9

        var clips: [ClipPlan] = []
        switch mode {
        case .uniform(let frames):
            try check(frames >= 1, "uniform: frames must be at least 1 (got \(frames))")
            clips = [clip(start, end, frames: frames)]

        case .sliding(let frames, let clipSeconds, let stride, let tail):
            try check(frames >= 1, "sliding: frames must be at least 1 (got \(frames))")
            try check(clipSeconds > 0 && clipSeconds.isFinite, "sliding: clip seconds must be positive (got \(clipSeconds))")
            try check(stride > 0 && stride.isFinite, "sliding: stride seconds must be positive (got \(stride))")
            if length <= clipSeconds + eps {
                clips = [clip(start, end, frames: frames)]
                break
            }
            var k = 0
            while start + Double(k) * stride + clipSeconds <= end + eps {
                let s = start + Double(k) * stride
                clips.append(clip(s, s + clipSeconds, frames: frames))
                k += 1
            }
            let nextStart = start + Double(k) * stride
            if nextStart < end - eps {
                switch tail {
                case .drop: break
                case .shift:
                    if let last = clips.last, abs(last.end - end) > eps {
                        clips.append(clip(end - clipSeconds, end, frames: frames))
                    }
                case .pad:
                    clips.append(clip(nextStart, nextStart + clipSeconds, frames: frames))
                }
            }

        case .multiview(let frames, let count, let clipSeconds, let crops):
            try check(frames >= 1, "multiview: frames must be at least 1 (got \(frames))")
            try check(count >= 1, "multiview: clips must be at least 1 (got \(count))")
            try check(crops == 1 || crops == 3, "multiview: spatial crops must be 1 or 3 (got \(crops))")
            var spans: [(Double, Double)] = []
            if let d = clipSeconds {
                try check(d > 0 && d.isFinite, "multiview: clip seconds must be positive (got \(d))")
                if d >= length {
                    spans = Array(repeating: (start, end), count: count)
                } else {
                    spans = (0..<count).map { i in
                        let s = count == 1 ? start + (length - d) / 2 : start + Double(i) * (length - d) / Double(count - 1)
                        return (s, s + d)
                    }
                }
            } else {
                spans = (0..<count).map { i in
                    (start + Double(i) * length / Double(count), start + Double(i + 1) * length / Double(count))
                }
            }
            let positions: [CropPosition] = crops == 3 ? [.start, .center, .end] : [.center]
            for (s, e) in spans {
                for p in positions { clips.append(clip(s, e, frames: frames, crop: p)) }
            }
        }
        for i in clips.indices { clips[i].index = i }
        return SamplingPlan(clips: clips)
    }
}
