import Foundation
import TokenReelMedia

/// One clip of a generated set, as written to `labels.jsonl`: where it is, how it was encoded,
/// and the full spec it was rendered from (its ground truth).
public struct Motion10ClipRecord: Codable, Equatable, Sendable {
    /// Path relative to the set's root, `<class>/<class>-<index>.<ext>`.
    public var path: String
    /// Class name, as in MOTION10.md, and its label index.
    public var label: String
    public var labelIndex: Int
    /// Clip index within its class.
    public var index: Int
    public var codec: String
    public var container: String
    public var spec: Motion10ClipSpec
}

/// A set that cannot be written where asked.
public struct Motion10DatasetError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Writes a labelled Motion10 set: `ROOT/<class>/<class>-NNNN.<ext>` plus `ROOT/labels.jsonl`.
///
/// Clip `i` of class `c` is rendered from `SynthRandom.derive(seed, c.index, i)`, so it is the
/// same clip whatever `perClass`, the class list or the number of jobs; only the codec choice
/// depends on the codec list (round-robin over `i + c.index`, so every class gets every codec).
public struct Motion10Dataset: Sendable {
    public var root: URL
    public var perClass: Int
    public var seed: UInt64
    public var codecs: [WriterCodec]
    public var classes: [Motion10Class]
    public var constraints: Motion10Constraints
    public var writerOptions: WriterOptions

    public init(root: URL, perClass: Int, seed: UInt64, codecs: [WriterCodec] = [.h264, .mpeg4, .mjpeg, .vp9],
                classes: [Motion10Class] = Motion10Class.allCases, constraints: Motion10Constraints = .init(),
                writerOptions: WriterOptions = .init()) {
        self.root = root; self.perClass = perClass; self.seed = seed; self.codecs = codecs
        self.classes = classes; self.constraints = constraints; self.writerOptions = writerOptions
    }

    /// The seed clip `index` of `motionClass` is rendered from.
    public static func clipSeed(_ seed: UInt64, _ motionClass: Motion10Class, _ index: Int) -> UInt64 {
        SynthRandom.derive(seed, UInt64(motionClass.index), UInt64(index))
    }

    /// Every clip's record, in class order then index order, without rendering anything.
    public func plan() -> [Motion10ClipRecord] {
        precondition(!codecs.isEmpty, "no codecs")
        var records: [Motion10ClipRecord] = []
        for c in classes.sorted() {
            for i in 0..<perClass {
                let codec = codecs[(i + c.index) % codecs.count]
                let spec = Motion10ClipSpec.random(c, seed: Motion10Dataset.clipSeed(seed, c, i), constraints: constraints)
                let name = "\(c.rawValue)/\(c.rawValue)-\(String(format: "%04d", i)).\(codec.fileExtension)"
                records.append(Motion10ClipRecord(path: name, label: c.rawValue, labelIndex: c.index, index: i,
                                                  codec: codec.rawValue, container: codec.containerName, spec: spec))
            }
        }
        return records
    }

    /// Renders and encodes one planned clip to `root/record.path`.
    public func write(_ record: Motion10ClipRecord) throws {
        let url = root.appendingPathComponent(record.path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard let codec = WriterCodec(rawValue: record.codec) else {
            throw WriterError(path: url.path, call: "Motion10Dataset.write", code: nil, message: "unknown codec \(record.codec)")
        }
        let spec = record.spec
        let renderer = Motion10Renderer(spec: spec)
        let writer = try VideoWriter(path: url.path, width: spec.width, height: spec.height,
                                     frameRate: WriterFrameRate(Int32(spec.fpsNumerator), Int32(spec.fpsDenominator)),
                                     codec: codec, options: writerOptions)
        for i in 0..<spec.frameCount { try writer.write(rgb: renderer.frame(i)) }
        try writer.finish()
    }

    /// `labels.jsonl`: one JSON object per clip, keys sorted, in plan order.
    public static func labelsJSONL(_ records: [Motion10ClipRecord]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for r in records {
            data.append(try encoder.encode(r))
            data.append(0x0A)
        }
        return data
    }

    /// Writes every clip (on `jobs` threads) and then `labels.jsonl` (atomically).
    /// `progress` is called after each clip with (done, total), from any thread, serially.
    public func generate(jobs: Int = 1, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws -> [Motion10ClipRecord] {
        let records = plan()
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw Motion10DatasetError(path: root.path, message: "exists and is not a directory")
        }
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw Motion10DatasetError(path: root.path, message: "cannot create the directory (\(error.localizedDescription))")
        }
        let lock = NSLock()
        nonisolated(unsafe) var firstError: Error?
        nonisolated(unsafe) var done = 0
        let workers = max(1, min(jobs, records.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < records.count {
                lock.lock(); let stop = firstError != nil; lock.unlock()
                if stop { return }
                do {
                    try write(records[i])
                    lock.lock(); done += 1; let d = done; progress(d, records.count); lock.unlock()
                } catch {
                    lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
                    return
                }
                i += workers
            }
        }
        if let firstError { throw firstError }
        try Motion10Dataset.labelsJSONL(records).write(to: root.appendingPathComponent("labels.jsonl"), options: .atomic)
        return records
    }
}
