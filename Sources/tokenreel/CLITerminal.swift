import ArgumentParser
import Foundation
import Logging
import TokenReelPipeline
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Shared command-line plumbing: exit codes, logging on stderr, the progress display and
// signal handling. Results never go to stdout; stdout carries only what a command was asked for.

/// Exit codes of `tokenreel` (documented in README.md and docs/pipelines.md).
enum ExitStatus {
    /// Every input labelled.
    static let ok: Int32 = 0
    /// Some inputs failed; every other input has its result.
    static let someFailed: Int32 = 1
    /// Usage or configuration error (bad option, pipeline file, model file, input directory).
    static let usage: Int32 = 2
    /// Interrupted by SIGINT or SIGTERM; finished inputs are written, the rest can be resumed.
    static let interrupted: Int32 = 130
}

/// A usage or configuration problem: printed as `tokenreel: <message>`, exit code 2.
struct UsageFailure: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// `--progress` and `--log-level`, the last two options of every command that runs a pipeline
/// (run, eval, sweep): one declaration, so their help text and defaults cannot drift apart.
struct ConsoleOptions: ParsableArguments {
    @Option(name: .long, help: "Progress on stderr: auto (a bar on a terminal, plain lines otherwise), always, never.")
    var progress: ProgressMode = .auto

    @Option(name: .long, help: "Log level on stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevelOption = .info
}

/// `--log-level`.
enum LogLevelOption: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
    var level: Logger.Level { Logger.Level(rawValue: rawValue)! }
}

/// `--progress`.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    /// A redrawing bar when stderr is a terminal, plain periodic lines otherwise.
    case auto
    /// Always the redrawing bar.
    case always
    /// No progress output (logs only).
    case never
}

/// Serialises everything written to stderr, so log lines and the progress bar do not tear.
final class Terminal: @unchecked Sendable {
    static let shared = Terminal()
    private let lock = NSLock()
    /// The bar currently on screen, redrawn after each log line.
    private var bar: String?

    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }

    func log(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        if bar != nil { write("\r\u{1B}[2K") }
        write(line + "\n")
        if let bar { write(bar) }
    }

    func drawBar(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        bar = text
        write("\r\u{1B}[2K" + text)
    }

    func endBar() {
        lock.lock(); defer { lock.unlock() }
        if bar != nil { write("\n"); bar = nil }
    }

    private func write(_ s: String) {
        var data = Array(s.utf8)
        data.withUnsafeMutableBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(STDERR_FILENO, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; return }
                off += n
            }
        }
    }
}

/// swift-log handler: one line per message on stderr, `LEVEL label: message key=value ...`.
struct StderrLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        Terminal.shared.log("\(event.level.rawValue.uppercased()) \(label): \(event.message)\(fields.isEmpty ? "" : " " + fields)")
    }
}

/// Bootstraps swift-log once per process (stderr, at `level`).
enum LogSetup {
    /// Logs go to stderr at `level`; returns the command's logger. Call once per process.
    static func bootstrap(_ level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var h = StderrLogHandler(label: label)
            h.logLevel = level
            return h
        }
        return Logger(label: "tokenreel")
    }
}

/// Renders ``ProgressSnapshot``s on stderr: a bar on a terminal, plain lines every
/// `lineInterval` seconds otherwise. Throttled; thread-safe.
final class ProgressDisplay: @unchecked Sendable {
    enum Style { case bar, lines, none }
    let style: Style
    let lineInterval: Double
    private let lock = NSLock()
    private var lastDraw = -Double.infinity
    private var last: ProgressSnapshot?

    init(mode: ProgressMode, lineInterval: Double = 5) {
        switch mode {
        case .never: style = .none
        case .always: style = .bar
        case .auto: style = Terminal.stderrIsTTY ? .bar : .lines
        }
        self.lineInterval = lineInterval
    }

    func update(_ p: ProgressSnapshot) {
        lock.lock(); defer { lock.unlock() }
        last = p
        let interval = style == .bar ? 0.1 : lineInterval
        guard p.elapsedSeconds - lastDraw >= interval || p.done == p.total else { return }
        lastDraw = p.elapsedSeconds
        draw(p)
    }

    func finish() {
        if style == .bar { Terminal.shared.endBar() }
    }

    private func draw(_ p: ProgressSnapshot) {
        switch style {
        case .none: return
        case .bar: Terminal.shared.drawBar(ProgressDisplay.barLine(p, width: 24))
        case .lines: Terminal.shared.log("progress: " + ProgressDisplay.statusText(p))
        }
    }

    /// `12/40 videos, 3.2 clips/s, ETA 0:12, 1 failed`
    static func statusText(_ p: ProgressSnapshot) -> String {
        let rate = p.elapsedSeconds > 0 ? Double(p.clips) / p.elapsedSeconds : 0
        var eta = "-"
        if p.done > 0, p.done < p.total {
            let s = Int((p.elapsedSeconds / Double(p.done) * Double(p.total - p.done)).rounded())
            eta = String(format: "%d:%02d", s / 60, s % 60)
        } else if p.done == p.total { eta = "0:00" }
        return "\(p.done)/\(p.total) videos, \(String(format: "%.1f", rate)) clips/s, ETA \(eta), \(p.failures) failed"
    }

    static func barLine(_ p: ProgressSnapshot, width: Int) -> String {
        let filled = p.total > 0 ? width * p.done / p.total : width
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + statusText(p)
    }
}

/// SIGINT and SIGTERM through Dispatch signal sources: the first calls `onFirst` (stop taking
/// new videos; the run then writes manifest and summary and exits 130), the second exits at
/// once with 130. Atomic writes mean neither leaves a partial JSON file.
final class InterruptHandler: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let count = NSLock()
    private var received = 0

    init(onFirst: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)   // the Dispatch source sees it; the default action must not
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global(qos: .userInteractive))
            source.setEventHandler { [unowned self] in   // the source's strong capture ends at cancel() in deinit
                // `data` counts the signals since the last event: two quick ones may arrive as one event.
                self.count.lock(); self.received += Int(source.data); let n = self.received; self.count.unlock()
                if n == 1 { onFirst(sig) } else { _exit(ExitStatus.interrupted) }
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
