// VideoWriter: encodes RGB24 frames to a video file through libavcodec/libavformat.
//
// Used by the Motion10 generator (TokenReelSynth) and by tests that need real files. The
// decoding side of this module knows nothing of it. Every FFmpeg object has exactly one owner
// (a fileprivate box class freeing it in deinit) and every FFmpeg return code goes through
// `writerCheck`, which throws a `WriterError` naming the file and the call.
import CFFmpeg
import CFFmpegShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The codecs `VideoWriter` encodes, each in the container it is usually found in.
public enum WriterCodec: String, CaseIterable, Codable, Sendable {
    /// H.264 (libx264, yuv420p, CRF 23, preset `veryfast`, B-frames) in MP4.
    case h264
    /// MPEG-4 part 2 (FFmpeg's native encoder, fixed quantiser 4) in AVI.
    case mpeg4
    /// Motion JPEG (yuvj420p, full range, fixed quantiser 4) in QuickTime MOV.
    case mjpeg
    /// VP9 (libvpx-vp9, CRF 34, `good` deadline, cpu-used 5) in WebM.
    case vp9
    /// HEVC (libx265, CRF 28, preset `veryfast` with rd=1, one thread pool of one) in Matroska.
    case hevc

    /// libavcodec encoder name.
    public var encoderName: String {
        switch self {
        case .h264: return "libx264"
        case .mpeg4: return "mpeg4"
        case .mjpeg: return "mjpeg"
        case .vp9: return "libvpx-vp9"
        case .hevc: return "libx265"
        }
    }

    /// libavformat muxer name.
    public var containerName: String {
        switch self {
        case .h264: return "mp4"
        case .mpeg4: return "avi"
        case .mjpeg: return "mov"
        case .vp9: return "webm"
        case .hevc: return "matroska"
        }
    }

    /// File extension without the dot.
    public var fileExtension: String { self == .hevc ? "mkv" : containerName }

    /// Whether the linked libavcodec has the encoder (libx264 and libvpx are optional at
    /// FFmpeg build time; Debian's build has both).
    public var isAvailable: Bool { avcodec_find_encoder_by_name(encoderName) != nil }
}

/// A frame rate as the rational number FFmpeg uses (e.g. 30000/1001).
public struct WriterFrameRate: Codable, Sendable, Equatable {
    public var numerator: Int32
    public var denominator: Int32
    public init(_ numerator: Int32, _ denominator: Int32 = 1) { self.numerator = numerator; self.denominator = denominator }
    public var value: Double { Double(numerator) / Double(denominator) }
}

/// Encoder knobs. Defaults give small files that decode everywhere, reproducibly.
public struct WriterOptions: Sendable {
    /// Keyframe interval in seconds (rounded to whole frames, at least 1 frame).
    public var keyframeSeconds: Double = 2
    /// Encoder threads. 1 (the default) makes the output a function of the input alone.
    public var threads: Int = 1
    /// Set FFmpeg's bit-exact flags (no library version strings, no random container UIDs), so
    /// the same frames give the same bytes.
    public var bitExact: Bool = true
    public init() {}
}

/// An encoding failure, naming the file, the FFmpeg call (or check) that failed, and FFmpeg's message.
public struct WriterError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var call: String
    /// FFmpeg's return code, when an FFmpeg call failed.
    public var code: Int32?
    public var message: String
    public init(path: String, call: String, code: Int32?, message: String) {
        self.path = path; self.call = call; self.code = code; self.message = message
    }
    public var description: String {
        "\(path): \(call) failed" + (code.map { " (\($0))" } ?? "") + ": \(message)"
    }
}

/// Encodes RGB24 frames into one video file.
///
/// ```swift
/// let writer = try VideoWriter(path: "clip.mp4", width: 160, height: 120, frameRate: .init(25), codec: .h264)
/// for frame in frames { try writer.write(rgb: frame) }   // each [H, W, 3] RGB24
/// try writer.finish()
/// ```
/// Frame `i` gets presentation time `i / frameRate`. A writer dropped without `finish()` closes
/// and deletes its incomplete file. Not thread-safe; one writer per thread.
public final class VideoWriter {
    public let path: String
    public let width: Int
    public let height: Int
    public let frameRate: WriterFrameRate
    public let codec: WriterCodec
    /// Frames accepted by `write` so far.
    public private(set) var framesWritten = 0

    private let output: WriterOutputBox
    private let encoder: WriterEncoderBox
    /// Encoder input, yuv420p (yuvj420p for MJPEG).
    private let frame: WriterFrameBox
    /// Padded RGB24 staging frame that swscale reads from.
    private let rgbFrame: WriterFrameBox
    private let packet: WriterPacketBox
    private let scaler: WriterScalerBox
    private let stream: UnsafeMutablePointer<AVStream>
    private var finished = false

    /// Opens `path` for writing (overwriting it) and writes the container header.
    /// - Throws: `WriterError` if the encoder is missing, the size is odd or too small, or any
    ///   FFmpeg call fails.
    public init(path: String, width: Int, height: Int, frameRate: WriterFrameRate, codec: WriterCodec,
                options: WriterOptions = .init()) throws {
        self.path = path; self.width = width; self.height = height; self.frameRate = frameRate; self.codec = codec
        guard width >= 16, height >= 16, width % 2 == 0, height % 2 == 0 else {
            throw WriterError(path: path, call: "VideoWriter.init", code: nil,
                              message: "frame size \(width)x\(height) must be even and at least 16x16 for 4:2:0 encoding")
        }
        guard frameRate.numerator > 0, frameRate.denominator > 0 else {
            throw WriterError(path: path, call: "VideoWriter.init", code: nil, message: "frame rate \(frameRate.numerator)/\(frameRate.denominator) is not positive")
        }
        guard let avCodec = avcodec_find_encoder_by_name(codec.encoderName) else {
            throw WriterError(path: path, call: "avcodec_find_encoder_by_name", code: nil,
                              message: "encoder '\(codec.encoderName)' for \(codec.rawValue) is not in this libavcodec build")
        }

        // Container.
        output = try WriterOutputBox(path: path, container: codec.containerName)
        let fmt = output.context
        if options.bitExact { fmt.pointee.flags |= AVFMT_FLAG_BITEXACT }
        guard let newStream = avformat_new_stream(fmt, nil) else {
            throw WriterError(path: path, call: "avformat_new_stream", code: nil, message: "out of memory")
        }
        stream = newStream

        // Encoder.
        encoder = try WriterEncoderBox(codec: avCodec, path: path)
        let ctx = encoder.context
        let pixelFormat = codec == .mjpeg ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P
        ctx.pointee.width = Int32(width)
        ctx.pointee.height = Int32(height)
        ctx.pointee.pix_fmt = pixelFormat
        ctx.pointee.time_base = AVRational(num: frameRate.denominator, den: frameRate.numerator)
        ctx.pointee.framerate = AVRational(num: frameRate.numerator, den: frameRate.denominator)
        ctx.pointee.gop_size = Int32(max(1, (options.keyframeSeconds * frameRate.value).rounded()))
        ctx.pointee.thread_count = Int32(max(1, options.threads))
        // What swscale produces below: BT.601 matrix, limited range (full range for yuvj420p).
        ctx.pointee.colorspace = AVCOL_SPC_SMPTE170M
        ctx.pointee.color_primaries = AVCOL_PRI_SMPTE170M
        ctx.pointee.color_trc = AVCOL_TRC_SMPTE170M
        ctx.pointee.color_range = codec == .mjpeg ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
        if options.bitExact { ctx.pointee.flags |= Int32(AV_CODEC_FLAG_BITEXACT) }
        if fmt.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 { ctx.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER) }
        switch codec {
        case .h264:
            try writerSetOption(ctx, "preset", "veryfast", path: path)
            try writerSetOption(ctx, "crf", "23", path: path)
            // Same frames, same bytes on every x86-64 CPU (tr_x264_asm_without_avx512 says why).
            if let asm = tr_x264_asm_without_avx512() { try writerSetOption(ctx, "x264-params", "asm=" + String(cString: asm), path: path) }
        case .vp9:
            ctx.pointee.bit_rate = 0
            try writerSetOption(ctx, "crf", "34", path: path)
            try writerSetOption(ctx, "deadline", "good", path: path)
            try writerSetOption(ctx, "cpu-used", "5", path: path)
        case .hevc:
            try writerSetOption(ctx, "preset", "veryfast", path: path)
            try writerSetOption(ctx, "crf", "28", path: path)
            // x265 logs through its own printf and runs its own thread pools unless told not to.
            // rd=1: x265 3.5 (Debian 12) at veryfast's rd=2 corrupts some B-frames of flat,
            // near-black or saturated content (a [10,10,10] frame after a white one decodes as
            // [255,3,255]; the ffmpeg CLI alone does the same; seen on an AMD EPYC host). rd=1
            // keeps B-frames (the decoder's reordering stays exercised) and encodes them right.
            let threads = max(1, options.threads)
            try writerSetOption(ctx, "x265-params", "log-level=error:pools=\(threads):frame-threads=\(threads):rd=1", path: path)
        case .mpeg4, .mjpeg:
            ctx.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
            ctx.pointee.global_quality = 4 * FF_QP2LAMBDA
        }
        _ = try writerCheck(avcodec_open2(ctx, avCodec, nil), "avcodec_open2(\(codec.encoderName))", path: path)
        _ = try writerCheck(avcodec_parameters_from_context(stream.pointee.codecpar, ctx), "avcodec_parameters_from_context", path: path)
        stream.pointee.time_base = ctx.pointee.time_base
        stream.pointee.avg_frame_rate = ctx.pointee.framerate

        // Reusable frame and packet, RGB -> YUV converter.
        frame = try WriterFrameBox(width: width, height: height, format: pixelFormat, path: path)
        rgbFrame = try WriterFrameBox(width: width, height: height, format: AV_PIX_FMT_RGB24, path: path)
        packet = try WriterPacketBox(path: path)
        scaler = try WriterScalerBox(width: width, height: height, format: pixelFormat, path: path)

        try output.open()
        _ = try writerCheck(avformat_write_header(fmt, nil), "avformat_write_header", path: path)
        output.headerWritten = true
    }

    /// Encodes one frame: RGB24 `[H, W, 3]`, exactly `width * height * 3` bytes.
    public func write(rgb: [UInt8]) throws {
        guard !finished else { throw WriterError(path: path, call: "VideoWriter.write", code: nil, message: "writer already finished") }
        guard rgb.count == width * height * 3 else {
            throw WriterError(path: path, call: "VideoWriter.write", code: nil,
                              message: "frame \(framesWritten) has \(rgb.count) bytes, expected \(width)x\(height)x3 = \(width * height * 3)")
        }
        // swscale's SIMD input paths read a little past the end of each source row, so the
        // caller's array is first copied into an FFmpeg-allocated (aligned, padded) RGB frame.
        let src = rgbFrame.frame
        _ = try writerCheck(av_frame_make_writable(src), "av_frame_make_writable(rgb)", path: path)
        let rowBytes = width * 3, srcStride = Int(src.pointee.linesize.0)
        guard let srcBase = src.pointee.data.0 else {
            throw WriterError(path: path, call: "av_frame_get_buffer(rgb)", code: nil, message: "frame has no data plane")
        }
        rgb.withUnsafeBufferPointer { pixels in
            for y in 0..<height {
                (srcBase + y * srcStride).update(from: pixels.baseAddress! + y * rowBytes, count: rowBytes)
            }
        }
        let f = frame.frame
        _ = try writerCheck(av_frame_make_writable(f), "av_frame_make_writable", path: path)
        let rows = withUnsafeMutablePointer(to: &src.pointee.data) { srcData in
            srcData.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { srcPlanes in
                withUnsafeMutablePointer(to: &src.pointee.linesize) { srcLines in
                    srcLines.withMemoryRebound(to: Int32.self, capacity: 8) { srcStrides in
                        withUnsafeMutablePointer(to: &f.pointee.data) { data in
                            data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { dst in
                                withUnsafeMutablePointer(to: &f.pointee.linesize) { lines in
                                    lines.withMemoryRebound(to: Int32.self, capacity: 8) { dstStrides in
                                        // sws_scale wants `const uint8_t *const[]`; the planes are only read.
                                        srcPlanes.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { srcConst in
                                            sws_scale(scaler.context, srcConst, srcStrides, 0, Int32(height), dst, dstStrides)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard rows == Int32(height) else {
            throw WriterError(path: path, call: "sws_scale", code: rows, message: "converted \(rows) of \(height) rows")
        }
        f.pointee.pts = Int64(framesWritten)
        _ = try writerCheck(avcodec_send_frame(encoder.context, f), "avcodec_send_frame", path: path)
        framesWritten += 1
        try drainPackets()
    }

    /// Flushes the encoder, writes the trailer and closes the file. Call once, after the last frame.
    public func finish() throws {
        guard !finished else { throw WriterError(path: path, call: "VideoWriter.finish", code: nil, message: "writer already finished") }
        finished = true
        guard framesWritten > 0 else {
            throw WriterError(path: path, call: "VideoWriter.finish", code: nil, message: "no frames were written")
        }
        _ = try writerCheck(avcodec_send_frame(encoder.context, nil), "avcodec_send_frame(flush)", path: path)
        try drainPackets()
        _ = try writerCheck(av_write_trailer(output.context), "av_write_trailer", path: path)
        try output.close()
    }

    /// Moves every packet the encoder has ready into the muxer.
    private func drainPackets() throws {
        while true {
            let status = try writerCheck(avcodec_receive_packet(encoder.context, packet.packet), "avcodec_receive_packet", path: path)
            guard status == .ok else { return }
            let p = packet.packet
            av_packet_rescale_ts(p, encoder.context.pointee.time_base, stream.pointee.time_base)
            p.pointee.stream_index = stream.pointee.index
            // Takes ownership of the packet's data and leaves `p` blank.
            _ = try writerCheck(av_interleaved_write_frame(output.context, p), "av_interleaved_write_frame", path: path)
        }
    }

    /// Whether the file was completed by `finish()`.
    public var isFinished: Bool { finished && output.isClosed }

    /// Makes libav* print only errors (libx264 otherwise prints several info lines per file).
    /// Process-wide: meant for command-line tools and tests, not for library code.
    public static func quietLibraryLogs() { av_log_set_level(AV_LOG_ERROR) }
}

// MARK: - One funnel for FFmpeg return codes

/// What an FFmpeg call's non-error return means.
private enum WriterStatus { case ok, needsInput, endOfStream }

/// AVERROR(EAGAIN) and AVERROR_EOF, macros Swift cannot import, through the shims the decoder uses.
private let writerEAGAIN = tr_averror(EAGAIN)
private let writerEOF = tr_averror_eof()

private func writerCheck(_ code: Int32, _ call: String, path: String) throws -> WriterStatus {
    if code >= 0 { return .ok }
    if code == writerEAGAIN { return .needsInput }
    if code == writerEOF { return .endOfStream }
    throw WriterError(path: path, call: call, code: code, message: writerErrorString(code))
}

private func writerErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 { return "unknown FFmpeg error" }
    return String(cString: buffer)
}

private func writerSetOption(_ ctx: UnsafeMutablePointer<AVCodecContext>, _ key: String, _ value: String, path: String) throws {
    _ = try writerCheck(av_opt_set(ctx.pointee.priv_data, key, value, 0), "av_opt_set(\(key)=\(value))", path: path)
}

// MARK: - Owners, one per FFmpeg object

/// Owns the output AVFormatContext and its AVIOContext. Deleting an incomplete file is its job too.
private final class WriterOutputBox {
    let context: UnsafeMutablePointer<AVFormatContext>
    let path: String
    var headerWritten = false
    private(set) var isClosed = false
    private var opened = false

    init(path: String, container: String) throws {
        var ctx: UnsafeMutablePointer<AVFormatContext>?
        _ = try writerCheck(avformat_alloc_output_context2(&ctx, nil, container, path), "avformat_alloc_output_context2(\(container))", path: path)
        guard let ctx else { throw WriterError(path: path, call: "avformat_alloc_output_context2", code: nil, message: "no context") }
        context = ctx
        self.path = path
    }

    func open() throws {
        _ = try writerCheck(avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open", path: path)
        opened = true
    }

    func close() throws {
        _ = try writerCheck(avio_closep(&context.pointee.pb), "avio_closep", path: path)
        isClosed = true
    }

    deinit {
        if opened && !isClosed {
            avio_closep(&context.pointee.pb)
            unlink(path)   // an unfinished file is not a video; leave nothing half-written behind
        }
        avformat_free_context(context)
    }
}

private final class WriterEncoderBox {
    let context: UnsafeMutablePointer<AVCodecContext>
    init(codec: UnsafePointer<AVCodec>, path: String) throws {
        guard let ctx = avcodec_alloc_context3(codec) else {
            throw WriterError(path: path, call: "avcodec_alloc_context3", code: nil, message: "out of memory")
        }
        context = ctx
    }
    deinit {
        var ctx: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&ctx)
    }
}

private final class WriterFrameBox {
    let frame: UnsafeMutablePointer<AVFrame>
    init(width: Int, height: Int, format: AVPixelFormat, path: String) throws {
        guard let f = av_frame_alloc() else { throw WriterError(path: path, call: "av_frame_alloc", code: nil, message: "out of memory") }
        frame = f
        f.pointee.width = Int32(width)
        f.pointee.height = Int32(height)
        f.pointee.format = format.rawValue
        _ = try writerCheck(av_frame_get_buffer(f, 0), "av_frame_get_buffer", path: path)
    }
    deinit {
        var f: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&f)
    }
}

private final class WriterPacketBox {
    let packet: UnsafeMutablePointer<AVPacket>
    init(path: String) throws {
        guard let p = av_packet_alloc() else { throw WriterError(path: path, call: "av_packet_alloc", code: nil, message: "out of memory") }
        packet = p
    }
    deinit {
        var p: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&p)
    }
}

private final class WriterScalerBox {
    let context: OpaquePointer
    init(width: Int, height: Int, format: AVPixelFormat, path: String) throws {
        // Bit-exact, accurately rounded conversion so that the YUV (and so the file) does not
        // depend on which SIMD path swscale picks on this CPU.
        let flags = SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT
        guard let ctx = sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(width), Int32(height), format,
                                       Int32(flags), nil, nil, nil) else {
            throw WriterError(path: path, call: "sws_getContext", code: nil, message: "RGB24 -> \(format.rawValue) \(width)x\(height) is not supported")
        }
        context = ctx
    }
    deinit { sws_freeContext(context) }
}
