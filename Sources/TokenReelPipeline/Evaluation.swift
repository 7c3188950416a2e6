import Foundation
import TokenReelPlot

/// Accuracy of a run over a labelled directory in the directory-per-class layout
/// (`ROOT/<class name>/<any name>.<ext>`): the true class of an input is the first component of
/// its path relative to the root.
public struct EvaluationReport: Codable, Sendable, Equatable {
    public struct ClassScore: Codable, Sendable, Equatable {
        public var label: String
        public var total: Int
        public var correct: Int
        public var accuracy: Double
    }

    public var schemaVersion = 1
    public var labels: [String]
    /// Inputs whose true class is one of `labels` and that were labelled (status ok).
    public var total: Int
    public var correct: Int
    public var accuracy: Double
    public var perClass: [ClassScore]
    /// confusion[true][predicted], in `labels` order.
    public var confusion: [[Int]]
    /// Inputs that failed (status error): they count against nobody's accuracy, and are listed.
    public var failed: [String]
    /// Inputs whose first path component is not a class of the model.
    public var unlabelled: [String]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", labels, total, correct, accuracy
        case perClass = "per_class", confusion, failed, unlabelled
    }
}

public enum Evaluation {
    /// The class a labelled set says `relativePath` is: its first path component.
    public static func trueLabel(of relativePath: String) -> String? {
        let parts = relativePath.split(separator: "/", omittingEmptySubsequences: true)
        return parts.count >= 2 ? String(parts[0]) : nil
    }

    /// - Parameter predictions: per input, its relative path and predicted label (nil when it failed).
    public static func evaluate(labels: [String], predictions: [(path: String, label: String?)]) -> EvaluationReport {
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: labels.count), count: labels.count)
        var failed: [String] = [], unlabelled: [String] = []
        for p in predictions.sorted(by: { $0.path < $1.path }) {
            guard let truth = trueLabel(of: p.path), let t = index[truth] else { unlabelled.append(p.path); continue }
            guard let predicted = p.label, let q = index[predicted] else { failed.append(p.path); continue }
            confusion[t][q] += 1
        }
        let perClass = labels.enumerated().map { (i, label) -> EvaluationReport.ClassScore in
            let total = confusion[i].reduce(0, +)
            return .init(label: label, total: total, correct: confusion[i][i],
                         accuracy: total > 0 ? Double(confusion[i][i]) / Double(total) : 0)
        }
        let total = perClass.reduce(0) { $0 + $1.total }, correct = perClass.reduce(0) { $0 + $1.correct }
        return EvaluationReport(labels: labels, total: total, correct: correct,
                                accuracy: total > 0 ? Double(correct) / Double(total) : 0,
                                perClass: perClass, confusion: confusion, failed: failed, unlabelled: unlabelled)
    }
}

extension EvaluationReport {
    /// A plain-text table: per-class accuracy, then the confusion matrix.
    public func table() -> String {
        let w = max(10, (labels.map(\.count).max() ?? 0) + 2)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        var out = "accuracy \(String(format: "%.2f", 100 * accuracy))% (\(correct)/\(total))"
        if !failed.isEmpty { out += ", \(failed.count) failed" }
        if !unlabelled.isEmpty { out += ", \(unlabelled.count) outside the classes" }
        out += "\n\n" + pad("class", w) + lpad("clips", 7) + lpad("acc", 9) + "\n"
        for c in perClass {
            out += pad(c.label, w) + lpad("\(c.total)", 7) + lpad(String(format: "%.1f%%", 100 * c.accuracy), 9) + "\n"
        }
        out += "\nconfusion (rows: true, columns: predicted)\n" + pad("", w)
        out += labels.indices.map { lpad("\($0)", 5) }.joined() + "\n"
        for (i, row) in confusion.enumerated() {
            out += pad("\(i) \(labels[i])", w) + row.map { lpad($0 == 0 ? "." : "\($0)", 5) }.joined() + "\n"
        }
        return out
    }

    /// The confusion matrix drawn as a PNG.
    public func confusionPNG(title: String) throws -> [UInt8] {
        try ConfusionMatrixChart(labels: labels, counts: confusion, title: title).render().png()
    }

    /// The report of a run over a labelled set: each manifest entry's label (none when it
    /// failed) against its class directory.
    public init(labels: [String], outcome: RunOutcome) {
        self = Evaluation.evaluate(labels: labels, predictions: outcome.manifest.map { ($0.path, $0.status == .ok ? $0.label : nil) })
    }

    /// Writes `eval.json` and `confusion.png` (headed `title`) into `directory`, atomically:
    /// what `tokenreel eval` leaves beside the run's results, and `tokenreel sweep` beside each point's.
    public func write(to directory: URL, title: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try OutputLayout.writeAtomically(try encoder.encode(self), to: directory.appendingPathComponent("eval.json"))
        try OutputLayout.writeAtomically(Data(try confusionPNG(title: title)), to: directory.appendingPathComponent("confusion.png"))
    }
}
