import CFFmpeg
import CFFmpegShims

/// A failure to read one video file: which file, what kind of failure, and FFmpeg's own words.
///
/// Every error the media layer throws is a `MediaError`; FFmpeg's log lines for the file are
/// captured (never printed) and attached in `ffmpegLog`.
public struct MediaError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Codable, Sendable {
        case notFound = "not_found"
        case notMedia = "not_media"
        case noVideoStream = "no_video_stream"
        case unsupportedCodec = "unsupported_codec"
        case corrupt
        case truncated
        case timeout
        case io
    }

    public var kind: Kind
    /// The file as given by the caller.
    public var path: String
    /// What went wrong, in words (includes the FFmpeg call and its error string when there is one).
    public var message: String
    /// Presentation time (s) at which decoding failed, when known.
    public var timestamp: Double?
    /// FFmpeg's log lines for this file (warnings and errors), oldest first.
    public var ffmpegLog: [String]

    public init(kind: Kind, path: String, message: String, timestamp: Double? = nil, ffmpegLog: [String] = []) {
        self.kind = kind
        self.path = path
        self.message = message
        self.timestamp = timestamp
        self.ffmpegLog = ffmpegLog
    }

    public var description: String {
        var text = "\(path): \(kind.rawValue): \(message)"
        if let timestamp { text += " (at \(formatSeconds(timestamp)) s)" }
        if let last = ffmpegLog.last { text += " [ffmpeg: \(last)]" }
        return text
    }
}

func formatSeconds(_ s: Double) -> String {
    String((s * 1000).rounded() / 1000)
}

/// FFmpeg's message for a return code (`av_err2str` is a macro Swift cannot import).
func ffmpegErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 128)
    av_strerror(code, &buffer, buffer.count)
    return String(cString: buffer)
}

/// The outcome of a libav* call that may ask for more input or signal the end of a stream.
/// Anything else negative is thrown by `FFStatus.check` as a typed error instead.
enum FFStatus: Equatable {
    case ok
    /// AVERROR(EAGAIN): send more input (or drain output) before calling again.
    case needsInput
    /// AVERROR_EOF: the stream or decoder is exhausted.
    case endOfStream

    static let eagain = tr_averror(EAGAIN)
    static let eof = tr_averror_eof()
    static let exit = tr_averror_exit()
    static let invalidData = tr_averror_invaliddata()

    /// The one funnel for FFmpeg return codes: ok / needs input / end of stream, or throws
    /// `FFmpegCallError` naming the call and carrying the code and FFmpeg's message.
    @discardableResult
    static func check(_ code: Int32, _ call: StaticString) throws -> FFStatus {
        if code >= 0 { return .ok }
        if code == eagain { return .needsInput }
        if code == eof { return .endOfStream }
        throw FFmpegCallError(code: code, call: call)
    }
}

/// A failed libav* call; the reader turns it into a `MediaError` of the right kind.
struct FFmpegCallError: Error {
    var code: Int32
    var call: StaticString
    var message: String { "\(call) failed: \(ffmpegErrorString(code)) (\(code))" }
}
