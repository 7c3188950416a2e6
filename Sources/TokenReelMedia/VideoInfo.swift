import CFFmpeg
import CFFmpegShims
import Foundation

/// What a probe learns about a file's best video stream, before any frame is decoded.
///
/// Sizes: `width` x `height` are the coded (stored) frame size; `displayWidth` x `displayHeight`
/// the size on screen after the display rotation (swapped for 90 and 270 degrees).
public struct VideoInfo: Codable, Sendable, Equatable {
    /// A rational number, as FFmpeg's AVRational.
    public struct Rational: Codable, Sendable, Equatable {
        public var num: Int
        public var den: Int
        public init(num: Int, den: Int) { self.num = num; self.den = den }
        public var value: Double { den == 0 ? 0 : Double(num) / Double(den) }
    }

    public var path: String
    /// Demuxer names, as FFmpeg reports them (e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm").
    public var container: String
    /// Decoder name (e.g. "h264", "hevc", "vp9").
    public var codec: String
    public var width: Int
    public var height: Int
    public var displayWidth: Int
    public var displayHeight: Int
    /// Clockwise rotation (degrees: 0, 90, 180 or 270) to apply to coded frames for display.
    public var rotation: Int
    /// Mirror left-right after the rotation.
    public var flipped: Bool
    public var pixelFormat: String
    public var bitDepth: Int
    public var avgFrameRate: Double?
    public var realFrameRate: Double?
    /// The video stream's time base (timestamps are multiples of num/den seconds).
    public var timeBase: Rational
    /// Seconds, from `startTime` to the end of the video stream.
    public var duration: Double
    public var frameCount: Int
    /// "header" (the container's frame count), "counted" (packets counted by demuxing) or
    /// "estimated" (duration x average frame rate).
    public var frameCountSource: String
    public var hasAudio: Bool
    /// Presentation time (s) of the first frame.
    public var startTime: Double

    public init(path: String, container: String, codec: String, width: Int, height: Int,
                displayWidth: Int, displayHeight: Int, rotation: Int, flipped: Bool,
                pixelFormat: String, bitDepth: Int, avgFrameRate: Double?, realFrameRate: Double?,
                timeBase: Rational, duration: Double, frameCount: Int, frameCountSource: String,
                hasAudio: Bool, startTime: Double) {
        self.path = path; self.container = container; self.codec = codec
        self.width = width; self.height = height
        self.displayWidth = displayWidth; self.displayHeight = displayHeight
        self.rotation = rotation; self.flipped = flipped
        self.pixelFormat = pixelFormat; self.bitDepth = bitDepth
        self.avgFrameRate = avgFrameRate; self.realFrameRate = realFrameRate
        self.timeBase = timeBase; self.duration = duration
        self.frameCount = frameCount; self.frameCountSource = frameCountSource
        self.hasAudio = hasAudio; self.startTime = startTime
    }

    /// Typical frame duration (s): from the average frame rate, else from count and duration.
    var frameInterval: Double {
        if let fps = avgFrameRate ?? realFrameRate, fps > 0 { return 1 / fps }
        if frameCount > 0, duration > 0 { return duration / Double(frameCount) }
        return 1.0 / 25
    }
}

/// How to turn the coded picture into the displayed one: an axis-aligned transform made of
/// a transpose and flips of the source axes, from the stream's display matrix.
///
/// A displayed pixel (x, y) comes from the coded pixel
/// `(p, q) = transpose ? (y', x') : (x', y')` where `x' = flipX ? W-1-x : x` in the source axis
/// it maps to (see `sourcePixel`).
struct DisplayTransform: Equatable {
    /// Displayed x runs along coded rows (false) or coded columns (true).
    var transpose = false
    /// The coded coordinate that displayed x maps to runs backwards.
    var reverseX = false
    /// The coded coordinate that displayed y maps to runs backwards.
    var reverseY = false

    static let identity = DisplayTransform()

    /// Reads FFmpeg's 3x3 display matrix (16.16 fixed point, row-major [a b u; c d v; x y w]),
    /// which maps a coded point (p, q) to the displayed point (a p + c q, b p + d q).
    /// Non axis-aligned matrices (e.g. 45 degrees) are not representable and give the identity.
    init(displayMatrix m: [Int32]) {
        func unit(_ v: Int32) -> Int? {
            let x = Double(v) / 65536
            if abs(x) < 0.25 { return 0 }
            if abs(abs(x) - 1) < 0.25 { return x > 0 ? 1 : -1 }
            return nil
        }
        guard m.count >= 5, let a = unit(m[0]), let b = unit(m[1]), let c = unit(m[3]), let d = unit(m[4]) else {
            self = .identity; return
        }
        // Displayed x' = a p + c q, displayed y' = b p + d q (up to translation).
        if a != 0 && d != 0 && b == 0 && c == 0 {
            transpose = false; reverseX = a < 0; reverseY = d < 0
        } else if b != 0 && c != 0 && a == 0 && d == 0 {
            // x' = c q, y' = b p: displayed x runs along coded columns.
            transpose = true; reverseX = c < 0; reverseY = b < 0
        } else {
            self = .identity
        }
    }

    init(transpose: Bool = false, reverseX: Bool = false, reverseY: Bool = false) {
        self.transpose = transpose; self.reverseX = reverseX; self.reverseY = reverseY
    }

    /// Builds the transform "rotate clockwise by `rotation` degrees, then mirror left-right if `flipped`".
    init(rotation: Int, flipped: Bool) {
        switch ((rotation % 360) + 360) % 360 {
        case 90: self.init(transpose: true, reverseX: true, reverseY: false)
        case 180: self.init(transpose: false, reverseX: true, reverseY: true)
        case 270: self.init(transpose: true, reverseX: false, reverseY: true)
        default: self.init()
        }
        if flipped { reverseX.toggle() }
    }

    /// The same transform described as a clockwise rotation followed by an optional mirror.
    var rotationAndFlip: (rotation: Int, flipped: Bool) {
        for flipped in [false, true] {
            for rotation in [0, 90, 180, 270] where DisplayTransform(rotation: rotation, flipped: flipped) == self {
                return (rotation, flipped)
            }
        }
        return (0, false)
    }

    /// Displayed size of a coded `width` x `height` picture.
    func displaySize(width: Int, height: Int) -> (width: Int, height: Int) {
        transpose ? (height, width) : (width, height)
    }

    /// Coded pixel (column, row) shown at displayed (x, y), for a coded picture of `width` x `height`.
    @inline(__always)
    func sourcePixel(x: Int, y: Int, width: Int, height: Int) -> (column: Int, row: Int) {
        if transpose {
            // displayed x walks coded rows (q), displayed y walks coded columns (p)
            let q = reverseX ? height - 1 - x : x
            let p = reverseY ? width - 1 - y : y
            return (p, q)
        } else {
            let p = reverseX ? width - 1 - x : x
            let q = reverseY ? height - 1 - y : y
            return (p, q)
        }
    }
}

/// Opens files and reports their `VideoInfo`.
public enum MediaProbe {
    /// Probes `path` without decoding. When the container does not store the frame count (or it
    /// disagrees with duration x frame rate by more than 10%), or stores no duration of the video
    /// stream's own, the video packets are counted by demuxing the file
    /// (`frameCountSource == "counted"`), and the duration is taken from their timestamps.
    /// - Throws: `MediaError` naming the file and the cause.
    public static func probe(path: String, options: DecodeOptions = .init()) throws -> VideoInfo {
        let log = FileLog()
        log.startDeadline(seconds: options.timeoutSeconds)
        return try withMediaErrors(path: path, log: log) {
            let opened = try OpenedVideo(path: path, log: log)
            if opened.info.frameCountSource != "header" || !opened.durationFromStream {
                try opened.countFrames(path: path)
            }
            return opened.info
        }
    }
}

/// An opened input with its chosen video stream and the probe result.
final class OpenedVideo {
    let input: InputFile
    let streamIndex: Int32
    let codec: UnsafePointer<AVCodec>
    var info: VideoInfo
    let transform: DisplayTransform
    /// The duration is the video stream's own, as stored in the file: not the container's (which
    /// may cover longer audio), and not libavformat's estimate from the last timestamps it read
    /// (MPEG-PS/TS, NUT: short by the reordering delay with B-frames) or from the bit rate.
    /// When false, ``countFrames(path:)`` replaces the duration with the last packet's end.
    private(set) var durationFromStream: Bool

    init(path: String, log: FileLog) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            // A name that is not valid UTF-8 reaches us with U+FFFD in place of its bad bytes, and
            // no file has that name: say so, rather than that the file is missing.
            let message = path.contains("\u{FFFD}")
                ? "cannot open: the file name is not valid UTF-8 (shown with U+FFFD for the bad bytes); rename it"
                : "no such file"
            throw MediaError(kind: .notFound, path: path, message: message)
        }
        if isDirectory.boolValue { throw MediaError(kind: .notMedia, path: path, message: "is a directory") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw MediaError(kind: .io, path: path, message: "permission denied")
        }
        var st = stat()   // through symbolic links (attributesOfItem would give the link's own size)
        if stat(path, &st) == 0 && st.st_size == 0 { throw MediaError(kind: .notMedia, path: path, message: "empty file (0 bytes)") }

        do {
            input = try InputFile(path: path, log: log)
        } catch let error as FFmpegCallError {
            throw MediaError(kind: Self.openFailureKind(error, path: path, log: log), path: path, message: error.message)
        }
        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(input.raw, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        if index == tr_averror_stream_not_found() {
            throw MediaError(kind: .noVideoStream, path: path, message: "no video stream (streams: \(Self.streamSummary(input.raw)))")
        }
        let stream = input.stream(max(index, 0))
        let params = stream.pointee.codecpar!
        let codecName = String(cString: avcodec_get_name(params.pointee.codec_id))
        if index == tr_averror_decoder_not_found() || decoder == nil {
            throw MediaError(kind: .unsupportedCodec, path: path, message: "no decoder for video codec '\(codecName)'")
        }
        if index < 0 { throw FFmpegCallError(code: index, call: "av_find_best_stream") }
        if params.pointee.width <= 0 || params.pointee.height <= 0 {
            throw MediaError(kind: .notMedia, path: path, message: "video stream has no frame size")
        }
        streamIndex = index
        codec = decoder!
        durationFromStream = false

        var matrix: [Int32] = []
        if let m = tr_stream_display_matrix(stream) { matrix = Array(UnsafeBufferPointer(start: m, count: 9)) }
        transform = matrix.isEmpty ? .identity : DisplayTransform(displayMatrix: matrix)
        let (rotation, flipped) = transform.rotationAndFlip

        let width = Int(params.pointee.width), height = Int(params.pointee.height)
        let display = transform.displaySize(width: width, height: height)
        let format = AVPixelFormat(rawValue: params.pointee.format)
        var pixelFormat = "unknown", bitDepth = 8
        if let desc = av_pix_fmt_desc_get(format) {
            pixelFormat = String(cString: desc.pointee.name)
            bitDepth = Int(desc.pointee.comp.0.depth)
        }
        let tb = stream.pointee.time_base
        let tbValue = Double(tb.num) / Double(max(tb.den, 1))
        func rate(_ r: AVRational) -> Double? { r.num > 0 && r.den > 0 ? Double(r.num) / Double(r.den) : nil }
        let avgRate = rate(stream.pointee.avg_frame_rate)
        let realRate = rate(stream.pointee.r_frame_rate)

        let noPTS = tr_nopts_value()
        var startTime = 0.0
        if stream.pointee.start_time != noPTS { startTime = Double(stream.pointee.start_time) * tbValue }
        else if input.raw.pointee.start_time != noPTS { startTime = Double(input.raw.pointee.start_time) / Double(AV_TIME_BASE) }
        var duration = 0.0
        var fromStream = true
        if stream.pointee.duration != noPTS && stream.pointee.duration > 0 {
            duration = Double(stream.pointee.duration) * tbValue
        } else if let tagged = Self.durationTag(stream) {
            duration = tagged      // Matroska keeps per-track durations in a DURATION tag
        } else if input.raw.pointee.duration != noPTS && input.raw.pointee.duration > 0 {
            fromStream = false     // the container's: may include a longer audio track
            let formatStart = input.raw.pointee.start_time == noPTS ? 0 : Double(input.raw.pointee.start_time) / Double(AV_TIME_BASE)
            duration = Double(input.raw.pointee.duration) / Double(AV_TIME_BASE) - max(0, startTime - formatStart)
        }
        var frameCount = Int(stream.pointee.nb_frames)
        var source = "header"
        let fps = avgRate ?? realRate
        let estimate = fps.map { Int((duration * $0).rounded()) } ?? 0
        if frameCount <= 0 || (estimate > 0 && abs(Double(frameCount - estimate)) > 0.1 * Double(estimate) + 1) {
            frameCount = estimate
            source = "estimated"
        }
        let estimated = input.raw.pointee.duration_estimation_method != AVFMT_DURATION_FROM_STREAM
        durationFromStream = fromStream && duration > 0 && !estimated
        var hasAudio = false
        for i in 0..<Int(input.raw.pointee.nb_streams) where input.stream(Int32(i)).pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO {
            hasAudio = true
        }
        info = VideoInfo(
            path: path, container: String(cString: input.raw.pointee.iformat.pointee.name), codec: codecName,
            width: width, height: height, displayWidth: display.width, displayHeight: display.height,
            rotation: rotation, flipped: flipped, pixelFormat: pixelFormat, bitDepth: bitDepth,
            avgFrameRate: avgRate, realFrameRate: realRate, timeBase: .init(num: Int(tb.num), den: Int(tb.den)),
            duration: duration, frameCount: frameCount, frameCountSource: source, hasAudio: hasAudio,
            startTime: startTime)
    }

    /// Counts the video packets (one per frame) by demuxing the whole file, and takes the duration
    /// from the last packet's end when the header has none. Leaves the input at its end.
    func countFrames(path: String) throws {
        let packet = Packet()
        var count = 0
        var lastEnd = Int64.min
        let noPTS = tr_nopts_value()
        while true {
            if input.log.expired { throw MediaError(kind: .timeout, path: path, message: "probe exceeded its deadline") }
            let status = try FFStatus.check(av_read_frame(input.raw, packet.raw), "av_read_frame")
            if status == .endOfStream { break }
            if packet.raw.pointee.stream_index == streamIndex {
                count += 1
                let ts = packet.raw.pointee.pts != noPTS ? packet.raw.pointee.pts : packet.raw.pointee.dts
                if ts != noPTS { lastEnd = max(lastEnd, ts + max(packet.raw.pointee.duration, 0)) }
            }
            av_packet_unref(packet.raw)
        }
        if count > 0 {
            info.frameCount = count
            info.frameCountSource = "counted"
            if !durationFromStream, lastEnd != Int64.min {
                info.duration = Double(lastEnd) * info.timeBase.value - info.startTime
                durationFromStream = true
            } else if info.duration <= 0, let fps = info.avgFrameRate ?? info.realFrameRate {
                info.duration = Double(count) / fps      // raw streams carry no timestamps at all
            }
        }
    }

    /// An MP4 without its moov box is a truncated MP4 only if it starts like one (an 'ftyp' box).
    private static func openFailureKind(_ error: FFmpegCallError, path: String, log: FileLog) -> MediaError.Kind {
        var startsWithFileTypeBox: Bool {
            guard let handle = FileHandle(forReadingAtPath: path) else { return false }
            defer { try? handle.close() }
            let head = handle.readData(ofLength: 8)
            return head.count == 8 && head.suffix(4) == Data("ftyp".utf8)
        }
        if error.code == FFStatus.exit { return .timeout }
        if log.lines.contains(where: { $0.contains("moov atom not found") }) && startsWithFileTypeBox { return .truncated }
        if error.code == tr_averror(ENOENT) { return .notFound }
        if error.code == tr_averror(EACCES) || error.code == tr_averror(EIO) { return .io }
        return .notMedia
    }

    /// A stream's "DURATION" metadata tag ("HH:MM:SS.fraction", as Matroska muxers write it), in seconds.
    private static func durationTag(_ stream: UnsafeMutablePointer<AVStream>) -> Double? {
        guard let entry = av_dict_get(stream.pointee.metadata, "DURATION", nil, 0), let value = entry.pointee.value else { return nil }
        let parts = String(cString: value).split(separator: ":")
        guard parts.count == 3, let h = Double(parts[0]), let m = Double(parts[1]), let sec = Double(parts[2]) else { return nil }
        let seconds = h * 3600 + m * 60 + sec
        return seconds > 0 ? seconds : nil
    }

    private static func streamSummary(_ ctx: UnsafeMutablePointer<AVFormatContext>) -> String {
        var kinds: [String] = []
        for i in 0..<Int(ctx.pointee.nb_streams) {
            let type = ctx.pointee.streams[i]!.pointee.codecpar.pointee.codec_type
            kinds.append(av_get_media_type_string(type).map { String(cString: $0) } ?? "unknown")
        }
        return kinds.isEmpty ? "none" : kinds.joined(separator: ", ")
    }
}

/// Runs `body`, turning anything it throws into a `MediaError` for `path` with the file's
/// captured FFmpeg log attached.
func withMediaErrors<R>(path: String, log: FileLog, timestamp: @autoclosure () -> Double? = nil, _ body: () throws -> R) throws -> R {
    do {
        return try log.capturing(body)
    } catch var error as MediaError {
        if error.ffmpegLog.isEmpty { error.ffmpegLog = log.lines }
        throw error
    } catch let error as FFmpegCallError {
        let kind: MediaError.Kind = error.code == FFStatus.exit ? .timeout
            : error.code == FFStatus.invalidData ? .corrupt : .io
        throw MediaError(kind: kind, path: path, message: error.message, timestamp: timestamp(), ffmpegLog: log.lines)
    }
}
