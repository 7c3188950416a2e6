import CFFmpeg
import CFFmpegShims

/// Decodes exactly the frames a `SamplingPlan` needs from one file.
///
/// How a plan is read:
/// 1. All clips' targets are merged into one sorted list; each remembers the last clip using it.
/// 2. For each clip in plan order, the reader seeks to the keyframe before its first unresolved
///    target when the index shows that keyframe ahead of the demuxer (or when it must go back),
///    and otherwise decodes forward.
/// 3. Every decoded frame closes the presentation interval of the frame before it: targets in
///    [previous pts, this pts) take the previous frame (`best_effort_timestamp`, never index/fps).
///    Only frames that take a target are converted by swscale, once each.
/// 4. Before sending a packet, the decoder is told to skip it if it is a non-reference frame and
///    another packet seen nearby lies between it and the next target (so it cannot be the pick).
///    For intra-only codecs (MJPEG, ProRes, DNxHD, ...), where no frame depends on another, such a
///    packet is not sent at all: their decoders ignore `skip_frame`, and nothing else needs it.
///
/// - warning: Not thread-safe; one worker uses a reader at a time.
public final class VideoReader {
    public let info: VideoInfo
    private let path: String
    private let options: DecodeOptions
    private let log: FileLog
    private let video: OpenedVideo
    private let decoder: Decoder
    private let stream: UnsafeMutablePointer<AVStream>
    private let timeBase: Double
    private let noPTS = tr_nopts_value()
    /// Every frame of the codec is coded on its own (the codec descriptor's INTRA_ONLY property).
    private let intraOnly: Bool

    // Decoding state (valid between seeks).
    private let frame = Frame()
    /// The last decoded frame: the pick for targets before the next frame's pts.
    private let held = Frame()
    private var heldTime: Double?
    /// Image slot holding `held` converted, once a target picked it.
    private var heldSlot: Int?
    /// No frame before the first one decoded since the last open/seek: earlier targets take it.
    private var atStreamStart = true
    private var demuxEnded = false
    /// The demuxer stopped with an error rather than at a clean end of file.
    private var readFailed = false
    private var decoderDrained = false
    /// dts (or pts) of the last video packet read from the demuxer, in stream ticks.
    private var lastDemuxedTicks: Int64?
    /// Packets read but not yet sent (a lookahead for skip decisions), oldest first.
    private var queue: [Packet] = []
    private var spare: [Packet] = []
    /// Latest presentation (or decode) time of a packet sent since the last seek.
    private var lastSentTime: Double?
    /// Presentation times of recently sent packets (for skip decisions).
    private var recentTimes: [Double] = []
    private static let lookahead = 16
    /// A frame starting at p holds target t when p <= t + epsilon (seconds; absorbs rounding of
    /// tick-to-second conversions, far below any frame duration).
    private static let epsilon = 1e-9

    // Target bookkeeping for the current plan.
    private var targets: [Double] = []
    private var lastUse: [Int] = []
    /// Image slot of each target (-1: not yet resolved).
    private var slotOfTarget: [Int] = []
    private var slots: [RGBImage] = []
    private var slotTimes: [Double] = []
    private var slotRefs: [Int] = []
    private var freeSlots: [Int] = []
    private var scaler: Scaler?
    private var resized = (width: 0, height: 0)
    private var resizedCoded = (width: 0, height: 0)
    /// Frames decoded and converted in the last `decode` call (for benchmarks and tests).
    public private(set) var statistics = Statistics()

    /// Counters of the work one `decode` call did.
    public struct Statistics: Sendable, Equatable {
        public var packetsSent = 0
        public var packetsMarkedSkippable = 0
        /// Packets of intra-only codecs never sent to the decoder (no pick, no dependants).
        public var packetsDropped = 0
        public var framesDecoded = 0
        public var framesConverted = 0
        public var seeks = 0
    }

    /// Opens `path` and probes it (the frame count is estimated when the container lacks it; the
    /// packets are counted when the file stores no duration of the video stream's own).
    /// - Throws: `MediaError` naming the file and the cause.
    public init(path: String, options: DecodeOptions = .init()) throws {
        let log = FileLog()
        log.startDeadline(seconds: options.timeoutSeconds)
        let (video, decoder) = try withMediaErrors(path: path, log: log) { () -> (OpenedVideo, Decoder) in
            let video = try OpenedVideo(path: path, log: log)
            if video.info.duration <= 0 || !video.durationFromStream {
                // No duration of the video stream's own (raw streams, MPEG-PS/TS, audio-length
                // containers): count the packets on a second opening.
                let counter = try OpenedVideo(path: path, log: log)
                try counter.countFrames(path: path)
                video.info.duration = counter.info.duration
                video.info.frameCount = counter.info.frameCount
                video.info.frameCountSource = counter.info.frameCountSource
            }
            let stream = video.input.stream(video.streamIndex)
            do {
                let decoder = try Decoder(codec: video.codec, parameters: stream.pointee.codecpar, threads: options.threads, log: log)
                return (video, decoder)
            } catch let error as FFmpegCallError {
                throw MediaError(kind: .unsupportedCodec, path: path,
                                 message: "cannot open the \(video.info.codec) decoder: \(error.message)")
            }
        }
        self.path = path
        self.options = options
        self.log = log
        self.video = video
        self.decoder = decoder
        self.info = video.info
        self.stream = video.input.stream(video.streamIndex)
        self.timeBase = video.info.timeBase.value
        let descriptor = avcodec_descriptor_get(self.stream.pointee.codecpar.pointee.codec_id)
        self.intraOnly = descriptor.map { $0.pointee.props & AV_CODEC_PROP_INTRA_ONLY != 0 } ?? false
        // Discard other streams at the demuxer: their packets are never read.
        for i in 0..<Int(video.input.raw.pointee.nb_streams) where Int32(i) != video.streamIndex {
            video.input.stream(Int32(i)).pointee.discard = AVDISCARD_ALL
        }
    }

    /// Decodes only what `plan` needs; calls `body` once per `ClipPlan`, in plan order, with its
    /// frames resized, cropped and rotated to `geometry`.
    /// - Throws: `MediaError` (with the timestamp where decoding failed when known), or what `body` throws.
    public func decode(_ plan: SamplingPlan, geometry: FrameGeometry, _ body: (DecodedClip) throws -> Void) throws {
        try start(plan, geometry: geometry)
        for (k, clip) in plan.clips.enumerated() {
            let ids = clip.timestamps.map(targetID)
            try body(try output(clip, ids: ids, geometry: geometry))
            release(ids, after: k)
        }
    }

    // MARK: - One clip in two parts

    /// The clip `decodePrefix` began, until `decodeRest` ends it.
    private var unfinished: (clip: ClipPlan, ids: [Int], geometry: FrameGeometry)?

    /// Decodes the first `frames` frames of a one-clip plan's clip and stops there, so that a
    /// caller who can decide from them never pays for the rest (an early-exit cascade whose first
    /// stages see the start of the clip). `decodeRest()`, if called, goes on from exactly that
    /// point: the two parts hold the same frames, picked and converted the same way, as one
    /// `decode` call would give, and `statistics` counts both.
    /// - Precondition: `plan` has one clip and 1 <= `frames` <= its frame count.
    /// - Throws: `MediaError`, as `decode`.
    public func decodePrefix(_ plan: SamplingPlan, frames: Int, geometry: FrameGeometry) throws -> DecodedClip {
        precondition(plan.clips.count == 1, "decodePrefix takes a one-clip plan (got \(plan.clips.count) clips)")
        let clip = plan.clips[0]
        precondition((1...clip.timestamps.count).contains(frames), "decodePrefix: \(frames) of \(clip.timestamps.count) frames")
        try start(plan, geometry: geometry)
        let ids = clip.timestamps.map(targetID)
        unfinished = (clip, ids, geometry)
        return try output(clip, ids: Array(ids.prefix(frames)), geometry: geometry)
    }

    /// The whole clip `decodePrefix` began (all its frames, the prefix's included), decoding
    /// only what the prefix did not. Call at most once after `decodePrefix`, from any thread, as
    /// long as no other call uses this reader at the same time.
    /// - Throws: `MediaError`, as `decode`.
    public func decodeRest() throws -> DecodedClip {
        guard let u = unfinished else { preconditionFailure("decodeRest without decodePrefix") }
        unfinished = nil
        return try output(u.clip, ids: u.ids, geometry: u.geometry)
    }

    private func start(_ plan: SamplingPlan, geometry: FrameGeometry) throws {
        try geometry.validate()
        statistics = Statistics()
        unfinished = nil
        prepareTargets(plan)
        prepareScaling(geometry)
    }

    /// Resolves `ids` (a clip's targets, or the first of them) and copies their crops out.
    private func output(_ clip: ClipPlan, ids: [Int], geometry: FrameGeometry) throws -> DecodedClip {
        // The budget covers decoding each clip, not the time a caller spends between clips.
        log.startDeadline(seconds: options.timeoutSeconds)
        try withMediaErrors(path: path, log: log, timestamp: self.heldTime) {
            try resolve(ids)
        }
        let t = ids.count, h = geometry.cropHeight, w = geometry.cropWidth
        let origin = geometry.cropOrigin(clip.crop, width: resized.width, height: resized.height)
        let pixels = [UInt8](unsafeUninitializedCapacity: t * h * w * 3) { out, count in
            for (j, id) in ids.enumerated() {
                copyCrop(from: slots[slotOfTarget[id]], x: origin.x, y: origin.y, width: w, height: h,
                         into: out.baseAddress! + j * h * w * 3)
            }
            count = t * h * w * 3
        }
        let times = ids.map { slotTimes[slotOfTarget[$0]] }
        return DecodedClip(plan: clip, frames: t, height: h, width: w, pixels: pixels, frameTimestamps: times)
    }

    // MARK: - Targets and image slots

    private func prepareTargets(_ plan: SamplingPlan) {
        var lastUseByTime: [Double: Int] = [:]
        for (k, clip) in plan.clips.enumerated() {
            for t in clip.timestamps { lastUseByTime[t] = k }
        }
        targets = lastUseByTime.keys.sorted()
        lastUse = targets.map { lastUseByTime[$0]! }
        slotOfTarget = Array(repeating: -1, count: targets.count)
        slotRefs = Array(repeating: 0, count: slots.count)
        freeSlots = Array(slots.indices)
        heldSlot = nil
    }

    private func targetID(_ t: Double) -> Int { lowerBound(t) }

    /// First target index with time >= t.
    private func lowerBound(_ t: Double) -> Int {
        var lo = 0, hi = targets.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if targets[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private func prepareScaling(_ geometry: FrameGeometry) {
        let size = geometry.resizedSize(displayWidth: info.displayWidth, displayHeight: info.displayHeight)
        let coded = video.transform.transpose ? (size.height, size.width) : (size.width, size.height)
        if size != resized || coded != resizedCoded || scaler?.algorithm != geometry.scaling {
            slots = []; slotTimes = []; slotRefs = []; freeSlots = []
            scaler = Scaler(algorithm: geometry.scaling)
        }
        resized = size
        resizedCoded = coded
    }

    /// A slot holding `held` converted to RGB at the resized size (converting it on first use).
    private func slotForHeld() throws -> Int {
        if let heldSlot { return heldSlot }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slots.append(RGBImage(width: resizedCoded.width, height: resizedCoded.height))
            slotTimes.append(0); slotRefs.append(0)
            slot = slots.count - 1
        }
        try scaler!.convert(held.raw, into: slots[slot])
        statistics.framesConverted += 1
        slotTimes[slot] = heldTime!
        heldSlot = slot
        return slot
    }

    /// The held frame is moving on: its slot, if no target uses it, becomes free.
    private func releaseHeldSlotIfUnused() {
        if let heldSlot, slotRefs[heldSlot] == 0 { freeSlots.append(heldSlot) }
        heldSlot = nil
    }

    private func assign(_ id: Int, to slot: Int) {
        slotOfTarget[id] = slot
        slotRefs[slot] += 1
    }

    private func release(_ ids: [Int], after clip: Int) {
        for id in Set(ids) where lastUse[id] == clip {
            let slot = slotOfTarget[id]
            slotRefs[slot] -= 1
            if slotRefs[slot] == 0 && slot != heldSlot { freeSlots.append(slot) }
        }
    }

    // MARK: - Seeking and decoding

    /// Decodes until every target in `ids` has its frame.
    private func resolve(_ ids: [Int]) throws {
        var attempts = 0
        while let first = ids.filter({ slotOfTarget[$0] < 0 }).min() {
            attempts += 1
            if attempts > 8 * ids.count {
                throw MediaError(kind: .corrupt, path: path, message: "cannot reach the frame at \(formatSeconds(targets[first])) s (timestamps out of order?)",
                                 timestamp: targets[first])
            }
            try position(for: targets[first])
            try decodeForward(until: first)
        }
    }

    /// Seeks when that is needed (target behind the decoder) or cheaper (a keyframe ahead of the
    /// demuxer at or before the target).
    private func position(for t: Double) throws {
        if let heldTime, t < heldTime - Self.epsilon { return try seek(to: t) }
        guard options.allowSeeking else { return }
        let ticks = seekTicks(for: t)
        if avformat_index_get_entries_count(stream) > 0 {
            guard let entry = avformat_index_get_entry_from_timestamp(stream, ticks, AVSEEK_FLAG_BACKWARD) else { return }
            let position = lastDemuxedTicks ?? avformat_index_get_entry(stream, 0)!.pointee.timestamp
            if entry.pointee.timestamp > position { try seek(to: t) }
        } else if let lastDemuxedTicks, t - Double(lastDemuxedTicks) * timeBase > 10 {
            try seek(to: t)   // no index: seek only over long distances
        }
    }

    /// Where to seek for target `t`, in stream ticks. Indexes hold decode times, and a keyframe's
    /// presentation time is up to the reorder delay later; seeking that much earlier lands on a
    /// keyframe that is presented at or before t.
    private func seekTicks(for t: Double) -> Int64 {
        let delay = Double(Int(stream.pointee.codecpar.pointee.video_delay) + 1) * info.frameInterval
        return Int64(((t - delay) / timeBase).rounded(.down))
    }

    /// Seeks to the keyframe before `t`, stepping back one keyframe at a time (or 1, 2, 4... s
    /// without an index) while the first frame decoded is later than `t` (open GOPs, inexact
    /// indexes), down to the start of the stream.
    private func seek(to t: Double) throws {
        let startTicks = stream.pointee.start_time == noPTS ? 0 : stream.pointee.start_time
        let hasIndex = avformat_index_get_entries_count(stream) > 0
        var ticks = seekTicks(for: t)
        var step = max(1, 4 * info.frameInterval)
        while true {
            let fromStart = ticks <= startTicks
            if fromStart { ticks = startTicks }
            do {
                try FFStatus.check(av_seek_frame(video.input.raw, video.streamIndex, ticks, AVSEEK_FLAG_BACKWARD), "av_seek_frame")
            } catch let error as FFmpegCallError where !fromStart && error.code != FFStatus.exit {
                ticks = startTicks   // cannot seek there: go back to the start and decode forward
                continue
            }
            statistics.seeks += 1
            resetDecoding(atStreamStart: fromStart)
            if fromStart { return }
            // Check the landing: the first frame must not be later than t.
            if try receiveFrame(), frameTime(frame.raw) <= t + Self.epsilon {
                try take(frame: frame.raw)
                return
            }
            if hasIndex, let landed = avformat_index_get_entry_from_timestamp(stream, ticks, AVSEEK_FLAG_BACKWARD) {
                ticks = landed.pointee.timestamp - 1
            } else {
                ticks -= Int64(step / timeBase)
                step *= 2
            }
        }
    }

    private func resetDecoding(atStreamStart: Bool) {
        avcodec_flush_buffers(decoder.raw)
        releaseHeldSlotIfUnused()
        av_frame_unref(held.raw)
        heldTime = nil
        self.atStreamStart = atStreamStart
        demuxEnded = false
        readFailed = false
        lastSentTime = nil
        decoderDrained = false
        lastDemuxedTicks = nil
        recentTimes.removeAll(keepingCapacity: true)
        for p in queue { av_packet_unref(p.raw); spare.append(p) }
        queue.removeAll(keepingCapacity: true)
    }

    /// Decodes frames until target `id` has its frame (later ones met on the way get theirs too)
    /// or the stream ends; the caller then reconsiders seeking for the next target.
    private func decodeForward(until id: Int) throws {
        while slotOfTarget[id] < 0 {
            guard try receiveFrame() else {
                try finishAtEndOfStream()
                return
            }
            try take(frame: frame.raw)
        }
    }

    /// Makes the frame in `frame` the held one, first giving the previously held frame every
    /// unresolved target in its presentation interval [held, this).
    private func take(frame decoded: UnsafeMutablePointer<AVFrame>) throws {
        let time = frameTime(decoded)
        if let heldTime {
            if time > heldTime {
                var i = lowerBound(heldTime - Self.epsilon)
                while i < targets.count && targets[i] < time - Self.epsilon {
                    if slotOfTarget[i] < 0 { assign(i, to: try slotForHeld()) }
                    i += 1
                }
            }
        }
        releaseHeldSlotIfUnused()
        av_frame_unref(held.raw)
        av_frame_move_ref(held.raw, decoded)
        heldTime = time
        if atStreamStart {
            // Targets before the first frame of the stream take the first frame.
            atStreamStart = false
            var i = 0
            while i < targets.count && targets[i] < time - Self.epsilon {
                if slotOfTarget[i] < 0 { assign(i, to: try slotForHeld()) }
                i += 1
            }
        }
    }

    /// The stream ended: the held frame takes every later target, unless the file stops well
    /// before where its header says the video ends and there is evidence of damage: then it is
    /// truncated or corrupt. A clean end (a long last frame, or a container duration that covers
    /// a longer audio track) is not an error.
    private func finishAtEndOfStream() throws {
        guard let heldTime else {
            throw MediaError(kind: .corrupt, path: path, message: "no frame could be decoded", timestamp: nil)
        }
        let first = lowerBound(heldTime - Self.epsilon)
        let pending = (first..<targets.count).filter { slotOfTarget[$0] < 0 }
        guard let last = pending.last else { return }
        let tolerance = max(0.5, 4 * info.frameInterval)
        let expectedEnd = info.startTime + info.duration
        if targets[last] > heldTime + tolerance && expectedEnd > heldTime + tolerance,
           let kind = damage(after: heldTime + tolerance) {
            let message = kind == .truncated
                ? "video data ends at \(formatSeconds(heldTime)) s but the header says \(formatSeconds(expectedEnd)) s"
                : "no frame could be decoded after \(formatSeconds(heldTime)) s of \(formatSeconds(expectedEnd)) s"
            throw MediaError(kind: kind, path: path, message: message, timestamp: heldTime)
        }
        let slot = try slotForHeld()
        for id in pending { assign(id, to: slot) }
    }

    /// Why no frame came after `time` (s), if the file is damaged: `.corrupt` when packets were
    /// read but gave no frame, when the index points at bytes that exist but could not be read, or
    /// when only the decoder complained; `.truncated` on a read error, the demuxer's "partial
    /// file" / "ended prematurely" warnings, or an index pointing past the end of the file.
    /// nil for a clean end.
    private func damage(after time: Double) -> MediaError.Kind? {
        if let sent = lastSentTime, sent > time { return .corrupt }
        if readFailed { return .truncated }
        let lines = log.lines.map { $0.lowercased() }
        if lines.contains(where: { line in ["partial file", "ended prematurely", "truncat"].contains { line.contains($0) } }) {
            return .truncated
        }
        let count = avformat_index_get_entries_count(stream)
        if count > 0, let entry = avformat_index_get_entry(stream, count - 1),
           Double(entry.pointee.timestamp) * timeBase > time, let pb = video.input.raw.pointee.pb {
            let size = avio_size(pb)
            return size > 0 && entry.pointee.pos >= size ? .truncated : .corrupt
        }
        return lines.isEmpty ? nil : .corrupt
    }

    /// Presentation time (s) of a decoded frame: best_effort_timestamp, or one frame after the
    /// held one when the stream carries no timestamps.
    private func frameTime(_ f: UnsafeMutablePointer<AVFrame>) -> Double {
        let ts = f.pointee.best_effort_timestamp
        if ts != noPTS { return Double(ts) * timeBase }
        return (heldTime.map { $0 + info.frameInterval }) ?? info.startTime
    }

    /// Receives the next decoded frame into `frame`; false at the end of the stream.
    private func receiveFrame() throws -> Bool {
        while true {
            switch try FFStatus.check(avcodec_receive_frame(decoder.raw, frame.raw), "avcodec_receive_frame") {
            case .ok:
                statistics.framesDecoded += 1
                return true
            case .endOfStream:
                return false
            case .needsInput:
                try sendNextPacket()
            }
        }
    }

    /// Sends the next video packet (or the end-of-stream flush) to the decoder.
    private func sendNextPacket() throws {
        if log.expired {
            throw MediaError(kind: .timeout, path: path, message: "decoding exceeded \(options.timeoutSeconds) s", timestamp: heldTime)
        }
        try fillQueue()
        guard !queue.isEmpty else {
            if !decoderDrained {
                decoderDrained = true
                try FFStatus.check(avcodec_send_packet(decoder.raw, nil), "avcodec_send_packet")
            }
            return
        }
        let packet = queue.removeFirst()
        defer { av_packet_unref(packet.raw); spare.append(packet) }
        let time = packetTime(packet.raw)
        let skip = options.skipUnneededFrames && isSkippable(time)
        if skip && intraOnly && packet.raw.pointee.flags & AV_PKT_FLAG_KEY != 0 {
            statistics.packetsDropped += 1
            return
        }
        decoder.raw.pointee.skip_frame = skip ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
        if skip { statistics.packetsMarkedSkippable += 1 }
        statistics.packetsSent += 1
        let dts = packet.raw.pointee.dts
        if let sent = time ?? (dts == noPTS ? nil : Double(dts) * timeBase) { lastSentTime = max(lastSentTime ?? sent, sent) }
        if let time {
            recentTimes.append(time)
            if recentTimes.count > Self.lookahead { recentTimes.removeFirst() }
        }
        do {
            // receiveFrame drains every frame before sending, so EAGAIN cannot happen here.
            try FFStatus.check(avcodec_send_packet(decoder.raw, packet.raw), "avcodec_send_packet")
        } catch let error as FFmpegCallError where error.code == FFStatus.invalidData {
            throw MediaError(kind: .corrupt, path: path, message: "undecodable data: \(error.message)",
                             timestamp: time ?? heldTime, ffmpegLog: log.lines)
        }
    }

    /// A non-reference frame at `time` cannot be the pick when another packet lies in
    /// (time, next target]: that later frame (or a later one still) is the last frame before the target.
    private func isSkippable(_ time: Double?) -> Bool {
        guard let time else { return false }
        var i = lowerBound(time - Self.epsilon)
        while i < targets.count && slotOfTarget[i] >= 0 { i += 1 }
        guard i < targets.count else { return false }
        let next = targets[i]
        func between(_ t: Double) -> Bool { t > time + Self.epsilon && t <= next + Self.epsilon }
        if recentTimes.contains(where: between) { return true }
        return queue.contains { packetTime($0.raw).map(between) ?? false }
    }

    private func packetTime(_ p: UnsafeMutablePointer<AVPacket>) -> Double? {
        p.pointee.pts == noPTS ? nil : Double(p.pointee.pts) * timeBase
    }

    /// Reads video packets until the lookahead queue is full or the input ends.
    private func fillQueue() throws {
        while !demuxEnded && queue.count < Self.lookahead {
            let packet = spare.popLast() ?? Packet()
            let status: FFStatus
            do {
                status = try FFStatus.check(av_read_frame(video.input.raw, packet.raw), "av_read_frame")
            } catch let error as FFmpegCallError where error.code != FFStatus.exit {
                // A read error mid-file: the data after the last good packet is missing or broken.
                // Decode what was read; the end-of-stream check then tells truncation from a clean end.
                spare.append(packet)
                if queue.isEmpty && heldTime == nil { throw error }
                demuxEnded = true
                readFailed = true
                return
            }
            if status == .endOfStream { spare.append(packet); demuxEnded = true; return }
            if packet.raw.pointee.stream_index != video.streamIndex { av_packet_unref(packet.raw); spare.append(packet); continue }
            let dts = packet.raw.pointee.dts != noPTS ? packet.raw.pointee.dts : packet.raw.pointee.pts
            if dts != noPTS { lastDemuxedTicks = dts }
            queue.append(packet)
        }
    }

    // MARK: - Crop and rotation (the module's one place of pixel pointer arithmetic)

    /// Copies the `width` x `height` crop at displayed (x, y) of `image` (coded orientation,
    /// resized) into `out` ([height, width, 3]), applying the display transform.
    private func copyCrop(from image: RGBImage, x: Int, y: Int, width: Int, height: Int, into out: UnsafeMutablePointer<UInt8>) {
        let transform = video.transform
        let display = transform.displaySize(width: image.width, height: image.height)
        assert(x >= 0 && y >= 0 && x + width <= display.width && y + height <= display.height)
        if transform == .identity {
            for row in 0..<height {
                (out + row * width * 3).update(from: image.data + (y + row) * image.stride + x * 3, count: width * 3)
            }
            return
        }
        for row in 0..<height {
            let dst = out + row * width * 3
            for col in 0..<width {
                let (c, r) = transform.sourcePixel(x: x + col, y: y + row, width: image.width, height: image.height)
                let src = image.data + r * image.stride + c * 3
                dst[col * 3] = src[0]; dst[col * 3 + 1] = src[1]; dst[col * 3 + 2] = src[2]
            }
        }
    }
}
