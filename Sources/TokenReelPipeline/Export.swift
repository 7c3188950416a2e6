import Foundation

/// `tokenreel export`: the clips a pipeline would feed the model, for the trainer.
///
/// The export runs the pipeline's own decode stage (the same `VideoDecoding` the `run` command
/// uses: sampling plan, seek, swscale resize/crop, rotation) over a labelled directory in the
/// directory-per-class layout, and keeps each clip's RGB24 pixels before normalisation. The
/// trainer applies the normalisation the model's metadata names, as the tokenize stage does, so
/// training and inference see identical pixels.
///
/// Dimension legend: N clips, T frames, H x W pixels, 3 RGB channels.
public enum ClipExport {
    public struct Failure: Sendable, Equatable {
        public var path: String
        public var message: String
    }

    public struct Result: Sendable {
        /// T, H, W of every clip.
        public var frames: Int, height: Int, width: Int
        /// [N, T, H, W, 3] RGB24.
        public var pixels: [UInt8]
        /// [N] index into the labels.
        public var labels: [Int32]
        /// [N] relative path of the video each clip came from, and the clip's index in its plan.
        public var videos: [String]
        public var clipIndices: [Int32]
        public var failures: [Failure]
        public var clipCount: Int { labels.count }
    }

    /// Decodes every input under `root` whose first path component is one of `labels`, with
    /// `workers` files decoding side by side; the result is in discovery order whatever the
    /// workers' timing. Inputs that cannot be decoded, or are outside the class directories,
    /// are listed in `failures`, and the rest go on.
    public static func run<D: VideoDecoding>(root: String, extensions: [String], labels: [String], decoder: D,
                                             workers: Int, progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let inputs = try Discovery.walk(root: root, extensions: extensions)
        let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, Int32($0)) })
        typealias PerFile = (clips: [ClipFrames], failure: Failure?)
        let results = Locked([PerFile?](repeating: nil, count: inputs.count))
        let next = Locked((index: 0, done: 0))
        let group = DispatchGroup()
        for w in 0..<max(1, workers) {
            // Decoding blocks: each worker is a thread of its own, never the cooperative pool.
            let thread = Thread {
                while true {
                    let i: Int? = next.withLock { s in
                        guard s.index < inputs.count else { return nil }
                        defer { s.index += 1 }
                        return s.index
                    }
                    guard let i else { break }
                    let input = inputs[i]
                    var outcome: PerFile = ([], nil)
                    if let truth = Evaluation.trueLabel(of: input.relativePath), classIndex[truth] != nil {
                        do {
                            try decoder.decode(input, opened: { _ in }, clip: { outcome.clips.append($0) })
                        } catch {
                            outcome = ([], Failure(path: input.relativePath, message: (error as? StageFailure)?.description ?? "\(error)"))
                        }
                    } else {
                        outcome.failure = Failure(path: input.relativePath,
                                                  message: "not under a class directory (expected ROOT/<one of \(labels.joined(separator: ", "))>/...)")
                    }
                    results.withLock { $0[i] = outcome }
                    let done = next.withLock { s -> Int in s.done += 1; return s.done }
                    progress(done, inputs.count)
                }
                group.leave()
            }
            thread.name = "tokenreel.export.\(w)"
            group.enter()
            thread.start()
        }
        group.wait()

        var out = Result(frames: 0, height: 0, width: 0, pixels: [], labels: [], videos: [], clipIndices: [], failures: [])
        for (input, perFile) in zip(inputs, results.withLock { $0 }) {
            guard let perFile else { continue }
            if let failure = perFile.failure { out.failures.append(failure); continue }
            let label = classIndex[Evaluation.trueLabel(of: input.relativePath)!]!
            for clip in perFile.clips {
                if out.labels.isEmpty { (out.frames, out.height, out.width) = (clip.frames, clip.height, clip.width) }
                precondition((clip.frames, clip.height, clip.width) == (out.frames, out.height, out.width),
                             "the decode stage gave clips of different shapes")
                out.pixels += clip.pixels
                out.labels.append(label)
                out.videos.append(input.relativePath)
                out.clipIndices.append(Int32(clip.index))
            }
        }
        return out
    }
}

extension ClipExport.Result {
    /// The `.npz` the trainer reads: `pixels` uint8 [N,T,H,W,3], `labels` int32 [N],
    /// `label_names`, `normalization` (JSON, as in the model's metadata), `videos`, `clip_index`,
    /// and the provenance `pipeline_hash`, `model_sha256`.
    public func npz(labelNames: [String], normalizationJSON: String, pipelineHash: String, modelSHA256: String) -> NpzWriter {
        var npz = NpzWriter()
        npz.add("pixels", uint8: pixels, shape: [clipCount, frames, height, width, 3])
        npz.add("labels", int32: labels)
        npz.add("label_names", strings: labelNames)
        npz.add("normalization", string: normalizationJSON)
        npz.add("videos", strings: videos)
        npz.add("clip_index", int32: clipIndices)
        npz.add("pipeline_hash", string: pipelineHash)
        npz.add("model_sha256", string: modelSHA256)
        return npz
    }
}
