import CFFmpeg
import CFFmpegShims

// One Swift owner per FFmpeg object, each freed in its deinit. Pointers are lent to FFmpeg calls
// only by the reader that owns these objects and never escape it.

/// Captured FFmpeg log lines and the decode deadline of one file (a `tr_file_context`).
/// Format and codec contexts keep a strong reference so it outlives every object that logs into it.
final class FileLog {
    let raw: OpaquePointer
    static let maxLines: Int32 = 64

    init() {
        tr_install_log_capture(AV_LOG_WARNING)
        guard let raw = tr_file_context_create(Self.maxLines) else { fatalError("out of memory") }
        self.raw = raw
    }

    deinit { tr_file_context_free(raw) }

    /// Starts the per-file deadline (`seconds` <= 0: none).
    func startDeadline(seconds: Double) {
        tr_file_context_start_deadline(raw, seconds)
    }

    var expired: Bool { tr_file_context_expired(raw) != 0 }

    /// The captured lines, oldest first.
    var lines: [String] {
        var dropped: Int32 = 0
        guard let joined = tr_file_context_copy_lines(raw, &dropped) else { return [] }
        defer { av_free(joined) }
        var result = String(cString: joined).split(separator: "\n").map(String.init)
        if dropped > 0 { result.insert("(\(dropped) earlier lines dropped)", at: 0) }
        return result
    }

    /// Runs `body` with this file's log receiving lines from objects that have no file of their
    /// own (swscale, parsers) on the calling thread.
    func capturing<R>(_ body: () throws -> R) rethrows -> R {
        tr_set_thread_file_context(raw)
        defer { tr_set_thread_file_context(nil) }
        return try body()
    }
}

/// An opened input (AVFormatContext) with its streams read.
final class InputFile {
    private(set) var raw: UnsafeMutablePointer<AVFormatContext>
    let log: FileLog

    /// Opens `path` and reads stream information; throws `FFmpegCallError`.
    init(path: String, log: FileLog) throws {
        guard var ctx = avformat_alloc_context() else { fatalError("out of memory") }
        tr_attach_format_context(ctx, log.raw)
        var optional: UnsafeMutablePointer<AVFormatContext>? = ctx
        // On failure avformat_open_input frees the context and sets it to NULL.
        try FFStatus.check(avformat_open_input(&optional, path, nil, nil), "avformat_open_input")
        ctx = optional!
        self.raw = ctx
        self.log = log
        try FFStatus.check(avformat_find_stream_info(ctx, nil), "avformat_find_stream_info")
    }

    deinit {
        var optional: UnsafeMutablePointer<AVFormatContext>? = raw
        avformat_close_input(&optional)
    }

    func stream(_ index: Int32) -> UnsafeMutablePointer<AVStream> { raw.pointee.streams[Int(index)]! }
}

/// A video decoder (AVCodecContext) opened for one stream.
final class Decoder {
    let raw: UnsafeMutablePointer<AVCodecContext>
    let log: FileLog

    /// - Parameter threads: decoder threads; more than one enables frame (and slice) threading.
    init(codec: UnsafePointer<AVCodec>, parameters: UnsafePointer<AVCodecParameters>, threads: Int, log: FileLog) throws {
        guard let ctx = avcodec_alloc_context3(codec) else { fatalError("out of memory") }
        self.raw = ctx
        self.log = log
        tr_attach_codec_context(ctx, log.raw)
        try FFStatus.check(avcodec_parameters_to_context(ctx, parameters), "avcodec_parameters_to_context")
        ctx.pointee.thread_count = Int32(max(1, threads))
        ctx.pointee.thread_type = threads > 1 ? (FF_THREAD_FRAME | FF_THREAD_SLICE) : 0
        try FFStatus.check(avcodec_open2(ctx, codec, nil), "avcodec_open2")
    }

    deinit {
        var optional: UnsafeMutablePointer<AVCodecContext>? = raw
        avcodec_free_context(&optional)
    }
}

/// An AVFrame; reused across decode calls.
final class Frame {
    let raw: UnsafeMutablePointer<AVFrame>
    init() {
        guard let f = av_frame_alloc() else { fatalError("out of memory") }
        raw = f
    }
    deinit {
        var optional: UnsafeMutablePointer<AVFrame>? = raw
        av_frame_free(&optional)
    }
}

/// An AVPacket; reused across reads.
final class Packet {
    let raw: UnsafeMutablePointer<AVPacket>
    init() {
        guard let p = av_packet_alloc() else { fatalError("out of memory") }
        raw = p
    }
    deinit {
        var optional: UnsafeMutablePointer<AVPacket>? = raw
        av_packet_free(&optional)
    }
}

/// An RGB24 image in av_malloc'd, SIMD-aligned memory, written by swscale.
/// Dimension legend: `height` rows of `width` pixels, 3 bytes each, rows `stride` bytes apart.
final class RGBImage {
    let width: Int, height: Int, stride: Int
    let data: UnsafeMutablePointer<UInt8>

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        self.stride = (width * 3 + 63) & ~63
        guard let memory = av_malloc(stride * height + 64) else { fatalError("out of memory") }
        data = memory.bindMemory(to: UInt8.self, capacity: stride * height + 64)
    }

    deinit { av_free(data) }
}

/// A swscale context converting decoded frames to RGB24 at one output size; rebuilt only when
/// the input size or pixel format changes.
final class Scaler {
    private var raw: OpaquePointer?
    private var key: (w: Int32, h: Int32, fmt: Int32, cs: Int32, full: Bool)?
    let flags: Int32

    init(algorithm: ScalingAlgorithm) { flags = algorithm.swsFlags | SWS_ACCURATE_RND }

    deinit { sws_freeContext(raw) }

    /// Converts `frame` into `image` (whole frame, resized to the image's size).
    func convert(_ frame: UnsafeMutablePointer<AVFrame>, into image: RGBImage) throws {
        let f = frame.pointee
        let full = f.color_range == AVCOL_RANGE_JPEG
        let cs = Int32(f.colorspace.rawValue)
        if key == nil || key!.w != f.width || key!.h != f.height || key!.fmt != f.format || key!.cs != cs || key!.full != full
            || raw == nil {
            sws_freeContext(raw)
            raw = sws_getContext(f.width, f.height, AVPixelFormat(rawValue: f.format),
                                 Int32(image.width), Int32(image.height), AV_PIX_FMT_RGB24, flags, nil, nil, nil)
            guard let raw else { throw FFmpegCallError(code: tr_averror(EINVAL), call: "sws_getContext") }
            // Use the frame's YUV matrix and range (as the ffmpeg CLI's scale filter does) so BT.709
            // and full-range sources keep their colours.
            let coefficients = sws_getCoefficients(cs == Int32(AVCOL_SPC_BT709.rawValue) ? SWS_CS_ITU709
                                                   : cs == Int32(AVCOL_SPC_BT2020_NCL.rawValue) ? SWS_CS_BT2020 : SWS_CS_DEFAULT)
            let rgbTable = sws_getCoefficients(SWS_CS_DEFAULT)
            sws_setColorspaceDetails(raw, coefficients, full ? 1 : 0, rgbTable, 1, 0, 1 << 16, 1 << 16)
            key = (f.width, f.height, f.format, cs, full)
        }
        var dst: [UnsafeMutablePointer<UInt8>?] = [image.data, nil, nil, nil]
        var dstStride: [Int32] = [Int32(image.stride), 0, 0, 0]
        let srcSlices = withUnsafePointer(to: frame.pointee.data) {
            $0.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { Array(UnsafeBufferPointer(start: $0, count: 8)) }
        }
        let srcStrides = withUnsafePointer(to: frame.pointee.linesize) {
            $0.withMemoryRebound(to: Int32.self, capacity: 8) { Array(UnsafeBufferPointer(start: $0, count: 8)) }
        }
        let rows = sws_scale(raw, srcSlices, srcStrides, 0, f.height, &dst, &dstStride)
        if rows <= 0 { throw FFmpegCallError(code: rows < 0 ? rows : tr_averror(EINVAL), call: "sws_scale") }
    }
}

extension ScalingAlgorithm {
    var swsFlags: Int32 {
        switch self {
        case .bilinear: return SWS_BILINEAR
        case .bicubic: return SWS_BICUBIC
        case .area: return SWS_AREA
        case .point: return SWS_POINT
        case .lanczos: return SWS_LANCZOS
        }
    }
}
