import Foundation
import Logging

/// Busy time and worker count of one stage.
public struct StageStats: Codable, Sendable, Equatable {
    public var workers: Int
    /// Seconds the stage's workers spent working, summed over workers (time blocked on a full
    /// or empty queue is not counted).
    public var busySeconds: Double

    enum CodingKeys: String, CodingKey { case workers, busySeconds = "busy_seconds" }
    public init(workers: Int, busySeconds: Double) { self.workers = workers; self.busySeconds = busySeconds }
}

/// What one pass of the engine did.
public struct EngineReport: Sendable {
    public var videosFinished = 0
    public var clips = 0
    /// Inputs never started because ``LabelingEngine/stop()`` was called.
    public var notStarted = 0
    public var wallSeconds = 0.0
    public var stages: [String: StageStats] = [:]
    /// Most clips each queue ever held (decode->tokenize, tokenize->infer) and videos in the writer queue.
    public var queueHighWater: [String: Int] = [:]
    /// Largest inference batch seen.
    public var largestBatch = 0
    /// FLOPs the labelled clips cost, and a cascade's exits.
    public var flops = FlopSummary(clips: 0, total: 0, fullModelPerClip: 0, exits: nil)
}

/// The staged engine: decode (N workers) -> tokenize (M) -> infer (K, batching clips across
/// videos) -> write (1), joined by ``BoundedQueue``s.
///
/// Each worker is a long-lived loop on its own serial `DispatchQueue` (Dispatch gives such queues
/// their own threads when they block), so FFmpeg and BLAS never run on Swift's cooperative pool.
/// Clips travel one at a time: a decode worker holds one clip in hand, each queue holds at most
/// `queue_capacity` clips, and an infer worker at most `batch_size`, so memory is bounded by
/// configuration, not by the number or length of videos.
public final class LabelingEngine<Decoder: VideoDecoding, Model: ClipModel>: @unchecked Sendable {
    public let decoder: Decoder
    public let model: Model
    public let config: PipelineConfig
    public let pipelineRef: VideoResult.PipelineRef
    private let logger: Logger
    private let stopRequested = Locked(false)

    public init(decoder: Decoder, model: Model, config: PipelineConfig, logger: Logger = Logger(label: "tokenreel.pipeline")) {
        self.decoder = decoder
        self.model = model
        self.config = config
        self.pipelineRef = .init(name: config.name, hash: config.hash)
        self.logger = logger
    }

    /// Stop taking new videos; those in flight finish and are written. Safe from any thread.
    public func stop() { stopRequested.withLock { $0 = true } }
    public var isStopping: Bool { stopRequested.withLock { $0 } }

    // MARK: Items travelling between stages

    /// One video in flight; shared by the items of its clips. All fields under `lock`.
    private final class VideoState: @unchecked Sendable {
        let input: InputFile
        let lock = NSLock()
        var probe: JSONValue?
        var clipCount: Int?
        var clipsSent = 0
        var decodeFinished = false
        var failure: StageFailure?
        var outcomes: [ClipResult] = []
        var probabilities: [[Double]] = []
        var finalized = false
        var decodeSeconds = 0.0, tokenizeSeconds = 0.0, inferSeconds = 0.0
        /// The undecoded rest of the video's clip while only its prefix is out (two-part decoding).
        var rest: ClipRest?
        init(input: InputFile) { self.input = input }

        /// Clips that came back without a result (model output rejected).
        var failedClips = 0

        /// True exactly once: when decoding has ended and every clip sent has come back.
        /// Call with `lock` held.
        func takeCompletion() -> Bool {
            guard !finalized, decodeFinished, outcomes.count + failedClips == clipsSent else { return false }
            finalized = true
            return true
        }
    }

    private struct FramesItem: @unchecked Sendable { let video: VideoState; let clip: ClipFrames }
    /// A prefix the model was unsure of: its video, and what the model concluded from it.
    private struct RestJob: @unchecked Sendable { let video: VideoState; let earlier: ClipOutput }
    private struct TokensItem: @unchecked Sendable {
        let video: VideoState
        var clip: ClipFrames   // pixels emptied: only the metadata travels on
        let tokens: Model.Tokens
    }

    // MARK: Run

    /// Labels `inputs` (in order) and calls `write` on the writer thread once per finished video,
    /// ok or error. Returns when every started video is written.
    public func run(_ inputs: [InputFile], write: @escaping (VideoResult) -> Void) -> EngineReport {
        let w = config.workers
        let framesQueue = BoundedQueue<FramesItem>(capacity: w.queueCapacity)
        let tokensQueue = BoundedQueue<TokensItem>(capacity: w.queueCapacity)
        let writeQueue = BoundedQueue<VideoState>(capacity: max(w.queueCapacity, w.decode + w.batchSize))
        let nextInput = Locked(0)
        let clipsDone = Locked(0)
        let largestBatch = Locked(0)
        let stageCount = model.stageCount
        let spent = Locked((clips: 0, flops: 0, exits: [Int](repeating: 0, count: stageCount)))
        let busy = Locked(["decode": 0.0, "tokenize": 0.0, "infer": 0.0, "write": 0.0])
        let start = monotonicSeconds()
        // Two-part decoding when the model's first stages see only the start of the clip (a
        // shuffled clip's first frames are not its start: then the whole clip, as usual).
        let prefixFrames = config.preprocess.shuffleFrames ? nil : model.prefixFrames
        let rests = RestBoard<RestJob>()

        func spawn(_ stage: String, _ count: Int, group: DispatchGroup, _ body: @escaping (Int) -> Void) {
            for i in 0 ..< count {
                let queue = DispatchQueue(label: "tokenreel.\(stage).\(i)", qos: .userInitiated)
                queue.async(group: group) { body(i) }
            }
        }

        // Decode: one file at a time per worker; each clip goes on as soon as it is decoded. With
        // two-part decoding, the rests the model asks for come before new files, and the workers
        // stay until no prefix is out that could still ask for one.
        let decodeGroup = DispatchGroup()
        spawn("decode", w.decode, group: decodeGroup) { _ in
            var busySeconds = 0.0
            /// Pushes `frames`; returns the seconds spent blocked on a full queue.
            func send(_ video: VideoState, _ frames: ClipFrames) -> Double {
                let b0 = monotonicSeconds()
                framesQueue.push(FramesItem(video: video, clip: frames))
                return monotonicSeconds() - b0
            }
            func fail(_ video: VideoState, _ error: Error) {
                let failure = (error as? StageFailure) ?? StageFailure(kind: "internal", message: "\(error)")
                video.lock.lock(); if video.failure == nil { video.failure = failure }; video.lock.unlock()
            }
            func decodeRest(_ job: RestJob) {
                let video = job.video
                let t0 = monotonicSeconds()
                var blocked = 0.0
                video.lock.lock(); let rest = video.rest; video.rest = nil; video.lock.unlock()
                var done = false
                do {
                    guard let rest else { throw StageFailure(kind: "internal", message: "no rest of the clip to decode") }
                    var whole = try rest.decode()
                    whole.earlier = job.earlier
                    blocked = send(video, whole)
                } catch {
                    fail(video, error)
                    video.lock.lock(); video.failedClips += 1; done = video.takeCompletion(); video.lock.unlock()
                }
                let spent = monotonicSeconds() - t0 - blocked
                busySeconds += spent
                video.lock.lock(); video.decodeSeconds += spent; video.lock.unlock()
                if done { writeQueue.push(video) }
                rests.settled()
            }
            while true {
                if let job = rests.take(wait: false) { decodeRest(job); continue }
                let i: Int? = self.isStopping ? nil : nextInput.withLock { n in
                    guard n < inputs.count else { return nil }
                    defer { n += 1 }
                    return n
                }
                guard let i else {
                    guard let job = rests.take(wait: true) else { break }
                    decodeRest(job)
                    continue
                }
                let video = VideoState(input: inputs[i])
                let t0 = monotonicSeconds()
                var blocked = 0.0
                let opened: (ProbeReport) throws -> Void = { report in
                    video.lock.lock(); video.probe = report.probe; video.clipCount = report.clipCount; video.lock.unlock()
                    if report.clipCount == 0 {
                        throw StageFailure(kind: "no_clips", message: "the sampling plan has no clips for this video")
                    }
                }
                do {
                    if let prefixFrames {
                        try self.decoder.decode(video.input, firstFrames: prefixFrames, opened: opened, prefix: { frames, rest in
                            video.lock.lock(); video.clipsSent += 1; video.rest = rest; video.lock.unlock()
                            rests.prefixSent()
                            blocked += send(video, frames)
                        })
                    } else {
                        try self.decoder.decode(video.input, opened: opened, clip: { frames in
                            video.lock.lock(); video.clipsSent += 1; video.lock.unlock()
                            blocked += send(video, frames)
                        })
                    }
                    video.lock.lock()
                    if video.clipCount != video.clipsSent {
                        video.failure = StageFailure(kind: "internal", message: "decoder produced \(video.clipsSent) clips of \(video.clipCount ?? -1) planned")
                    }
                    video.lock.unlock()
                } catch {
                    fail(video, error)
                }
                let spent = monotonicSeconds() - t0 - blocked
                busySeconds += spent
                video.lock.lock()
                video.decodeSeconds += spent
                video.decodeFinished = true
                let done = video.takeCompletion()
                video.lock.unlock()
                if done { writeQueue.push(video) }
            }
            busy.withLock { $0["decode"]! += busySeconds }
        }

        // Tokenize: pixels -> tokens; the pixels are dropped here (a cascade's tokens carry them
        // on for its later stages).
        let tokenizeGroup = DispatchGroup()
        spawn("tokenize", w.tokenize, group: tokenizeGroup) { _ in
            let workspace = self.model.makeWorkspace()
            var busySeconds = 0.0
            while let item = framesQueue.pop() {
                let t0 = monotonicSeconds()
                let tokens: Model.Tokens
                do {
                    tokens = try self.model.embed(item.clip, workspace: workspace)
                } catch {
                    let spent = monotonicSeconds() - t0
                    busySeconds += spent
                    let failure = (error as? StageFailure) ?? StageFailure(kind: "internal", message: "\(error)")
                    item.video.lock.lock()
                    item.video.tokenizeSeconds += spent
                    item.video.failedClips += 1
                    if item.video.failure == nil { item.video.failure = failure }
                    item.video.rest = nil
                    let done = item.video.takeCompletion()
                    item.video.lock.unlock()
                    if done { writeQueue.push(item.video) }
                    if item.clip.isPrefix { rests.settled() }
                    continue
                }
                var clip = item.clip
                clip.pixels = []
                let spent = monotonicSeconds() - t0
                busySeconds += spent
                item.video.lock.lock(); item.video.tokenizeSeconds += spent; item.video.lock.unlock()
                tokensQueue.push(TokensItem(video: item.video, clip: clip, tokens: tokens))
            }
            busy.withLock { $0["tokenize"]! += busySeconds }
        }

        // Infer: batches of up to batch_size clips, from whichever videos are queued.
        let inferGroup = DispatchGroup()
        spawn("infer", w.infer, group: inferGroup) { _ in
            let workspace = self.model.makeWorkspace()
            var busySeconds = 0.0
            while true {
                let batch = tokensQueue.popBatch(max: w.batchSize)
                if batch.isEmpty { break }
                largestBatch.withLock { $0 = max($0, batch.count) }
                let t0 = monotonicSeconds()
                let outputs = self.model.classify(batch.map(\.tokens), workspace: workspace)
                var finished: [VideoState] = []
                var settled = 0
                for (k, item) in batch.enumerated() {
                    if k < outputs.count, case let .success(out) = outputs[k], out.needsWholeClip, item.clip.isPrefix {
                        // Unsure from the start of the clip: a decode worker decodes the rest.
                        let share = (monotonicSeconds() - t0) / Double(batch.count)
                        item.video.lock.lock(); item.video.inferSeconds += share; item.video.lock.unlock()
                        rests.ask(RestJob(video: item.video, earlier: out))
                        continue
                    }
                    if item.clip.isPrefix { settled += 1 }
                    let clipResult = k < outputs.count ? outputs[k].flatMap { self.score(item.clip, output: $0) } : nil
                    if case let .success((result, _))? = clipResult {
                        spent.withLock { s in
                            s.clips += 1
                            s.flops += result.flops ?? 0
                            if let e = result.exitStage { s.exits[e] += 1 }
                        }
                    }
                    let share = (monotonicSeconds() - t0) / Double(batch.count)
                    item.video.lock.lock()
                    switch clipResult {
                    case let .success((result, probabilities))?:
                        item.video.outcomes.append(result)
                        item.video.probabilities.append(probabilities)
                    case let .failure(failure)?:
                        item.video.failedClips += 1
                        if item.video.failure == nil { item.video.failure = failure }
                    case nil:
                        item.video.failedClips += 1
                        if item.video.failure == nil {
                            item.video.failure = StageFailure(kind: "model_output", message: "the model returned \(outputs.count) outputs for a batch of \(batch.count)")
                        }
                    }
                    item.video.inferSeconds += share
                    item.video.rest = nil   // settled from its start: the rest is never decoded
                    if item.video.takeCompletion() { finished.append(item.video) }
                    item.video.lock.unlock()
                    clipsDone.withLock { $0 += 1 }
                }
                busySeconds += monotonicSeconds() - t0
                for video in finished { writeQueue.push(video) }
                for _ in 0 ..< settled { rests.settled() }
            }
            busy.withLock { $0["infer"]! += busySeconds }
        }

        // Write: one thread builds each result and hands it to `write`.
        let writerGroup = DispatchGroup()
        let videosFinished = Locked(0)
        spawn("write", 1, group: writerGroup) { _ in
            var busySeconds = 0.0
            while let video = writeQueue.pop() {
                let t0 = monotonicSeconds()
                write(self.makeResult(video))
                busySeconds += monotonicSeconds() - t0
                videosFinished.withLock { $0 += 1 }
            }
            busy.withLock { $0["write"]! += busySeconds }
        }

        // Shut down front to back: each queue closes once every producer of it has finished.
        decodeGroup.wait(); framesQueue.close()
        tokenizeGroup.wait(); tokensQueue.close()
        inferGroup.wait(); writeQueue.close()
        writerGroup.wait()

        var report = EngineReport()
        report.videosFinished = videosFinished.withLock { $0 }
        report.clips = clipsDone.withLock { $0 }
        report.notStarted = inputs.count - nextInput.withLock { $0 }
        report.wallSeconds = monotonicSeconds() - start
        let b = busy.withLock { $0 }
        report.stages = [
            "decode": .init(workers: w.decode, busySeconds: b["decode"]!),
            "tokenize": .init(workers: w.tokenize, busySeconds: b["tokenize"]!),
            "infer": .init(workers: w.infer, busySeconds: b["infer"]!),
            "write": .init(workers: 1, busySeconds: b["write"]!),
        ]
        report.queueHighWater = ["frames": framesQueue.highWater, "tokens": tokensQueue.highWater, "write": writeQueue.highWater]
        report.largestBatch = largestBatch.withLock { $0 }
        let s = spent.withLock { $0 }
        report.flops = FlopSummary(clips: s.clips, total: s.flops, fullModelPerClip: model.fullFlopsPerClip,
                                   exits: stageCount > 1 ? s.exits : nil)
        return report
    }

    // MARK: Results

    private func score(_ clip: ClipFrames, output: ClipOutput) -> Result<(ClipResult, [Double]), StageFailure> {
        let logits = output.logits
        guard logits.count == model.labels.count else {
            return .failure(StageFailure(kind: "model_output", message: "the model returned \(logits.count) logits for \(model.labels.count) labels"))
        }
        guard logits.allSatisfy(\.isFinite) else {
            return .failure(StageFailure(kind: "model_output", message: "the model returned non-finite logits for clip \(clip.index)"))
        }
        let p = Scoring.softmax(logits)
        let top = Scoring.topK(p, labels: model.labels, k: min(config.output.topK, p.count))
        let result = ClipResult(index: clip.index, start: clip.start, end: clip.end, timestamps: clip.timestamps,
                                frameTimestamps: clip.frameTimestamps, crop: clip.crop, repeatedFrames: clip.repeatedFrames,
                                label: top[0].label, score: top[0].score, topK: top,
                                probabilities: config.output.probabilities ? p : nil,
                                logits: config.output.logits ? logits.map(Double.init) : nil,
                                exitStage: output.exitStage, flops: output.flops,
                                stageProbabilities: config.output.probabilities && output.exitStage != nil
                                    ? output.stageLogits.map(Scoring.softmax) : nil)
        return .success((result, p))
    }

    /// An error message that is the same on every run and machine: the input's absolute path
    /// becomes its relative path, and FFmpeg's context addresses (`[mov,mp4 @ 0x7f...]`) go.
    static func reproducibleMessage(_ message: String, absolutePath: String, relativePath: String) -> String {
        message.replacingOccurrences(of: absolutePath, with: relativePath)
            .replacingOccurrences(of: " @ 0x[0-9a-fA-F]+", with: "", options: .regularExpression)
    }

    private func makeResult(_ video: VideoState) -> VideoResult {
        video.lock.lock(); defer { video.lock.unlock() }
        let input = VideoResult.Input(path: video.input.relativePath, size: video.input.size,
                                      modified: OutputLayout.isoTime(video.input.modified))
        let modelRef = VideoResult.ModelRef(name: model.name, sha256: model.sha256)
        let timing = VideoResult.Timing(decode: video.decodeSeconds, tokenize: video.tokenizeSeconds, infer: video.inferSeconds)
        if let failure = video.failure {
            logger.warning("input failed", metadata: ["path": "\(input.path)", "kind": "\(failure.kind)", "message": "\(failure.message)"])
            let message = Self.reproducibleMessage(failure.message, absolutePath: video.input.path, relativePath: input.path)
            return VideoResult(input: input, status: .error, error: .init(kind: failure.kind, message: message),
                               probe: video.probe, model: modelRef, pipeline: pipelineRef, label: nil, score: nil,
                               topK: nil, clips: [], timing: timing)
        }
        // Clips may come back out of order (several infer workers, batches); results are in plan order.
        let order = video.outcomes.indices.sorted { video.outcomes[$0].index < video.outcomes[$1].index }
        let clips = order.map { video.outcomes[$0] }
        let mean = Scoring.mean(order.map { video.probabilities[$0] })
        let top = Scoring.topK(mean, labels: model.labels, k: min(config.output.topK, mean.count))
        return VideoResult(input: input, status: .ok, error: nil, probe: video.probe, model: modelRef,
                           pipeline: pipelineRef, label: top[0].label, score: top[0].score, topK: top,
                           clips: clips, timing: timing)
    }
}

/// Two-part decoding's hand-back from infer to decode: how many prefixes are out (the decode
/// workers must not finish while one may still ask for its rest) and the rests asked for,
/// oldest first. Unbounded, so the infer stage never waits on it (no cycle of full queues); it
/// holds at most one job per prefix out, and those are bounded by the queues and batches.
final class RestBoard<Job>: @unchecked Sendable {
    private let condition = NSCondition()
    private var out = 0
    private var jobs: [Job] = []
    private var head = 0

    /// A prefix went out.
    func prefixSent() { condition.lock(); out += 1; condition.unlock() }

    /// A prefix's clip was settled, from its start or whole (or failed): one fewer to wait for.
    func settled() {
        condition.lock(); out -= 1; condition.broadcast(); condition.unlock()
    }

    /// A prefix needs its rest decoded.
    func ask(_ job: Job) {
        condition.lock(); jobs.append(job); condition.signal(); condition.unlock()
    }

    /// The oldest job asked for; when there is none: nil at once (`wait` false), or after waiting
    /// until one comes or no prefix is out (`wait` true: nil means no job can come any more).
    func take(wait: Bool) -> Job? {
        condition.lock(); defer { condition.unlock() }
        while true {
            if head < jobs.count {
                let job = jobs[head]
                head += 1
                if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
                return job
            }
            if !wait || out == 0 { return nil }
            condition.wait()
        }
    }
}
