/// Draws a confusion matrix: rows are true classes, columns predicted classes, each cell shaded
/// by the fraction of its row (white 0 to dark blue 1) and labelled with its count; the last
/// column gives each class's accuracy (recall).
public struct ConfusionMatrixChart {
    public var labels: [String]
    /// counts[true][predicted]
    public var counts: [[Int]]
    public var title: String

    public init(labels: [String], counts: [[Int]], title: String) {
        precondition(counts.count == labels.count && counts.allSatisfy { $0.count == labels.count },
                     "counts must be [classes][classes]")
        self.labels = labels
        self.counts = counts
        self.title = title
    }

    static let cell = 44
    static let low = RGB.white
    static let high = RGB(8, 48, 107)

    public func render() -> Canvas {
        let n = labels.count, cell = Self.cell, scale = 2
        let labelWidth = (labels.map { Canvas.textWidth($0, scale: scale) }.max() ?? 0) + 16
        let titleHeight = Canvas.textHeight(scale: scale) + 24
        let left = labelWidth + 24, top = titleHeight + labelWidth + 8
        let accuracyWidth = Canvas.textWidth("100.0%", scale: scale) + 24
        let width = left + n * cell + accuracyWidth + 16, height = top + n * cell + 48
        var canvas = Canvas(width: width, height: height)

        canvas.text(title, x: 12, y: 10, scale: scale)
        for (j, label) in labels.enumerated() {                      // predicted, vertical, above
            canvas.text(label, x: left + j * cell + (cell - Canvas.textHeight(scale: scale)) / 2,
                        y: top - 8, scale: scale, vertical: true)
        }
        canvas.text("recall", x: left + n * cell + 12, y: top - 8 - Canvas.textHeight(scale: scale), scale: scale)
        for (i, label) in labels.enumerated() {                      // true, left
            let y = top + i * cell + (cell - Canvas.textHeight(scale: scale)) / 2
            canvas.text(label, x: left - 12 - Canvas.textWidth(label, scale: scale), y: y, scale: scale)
            let rowTotal = counts[i].reduce(0, +)
            for j in 0..<n {
                let fraction = rowTotal > 0 ? Double(counts[i][j]) / Double(rowTotal) : 0
                let fill = RGB.mix(Self.low, Self.high, fraction)
                canvas.fillRect(x: left + j * cell, y: top + i * cell, width: cell, height: cell, fill)
                if counts[i][j] > 0 {
                    let text = String(counts[i][j])
                    canvas.text(text, x: left + j * cell + (cell - Canvas.textWidth(text, scale: scale)) / 2,
                                y: y, scale: scale, fill.luminance < 0.5 ? .white : .black)
                }
            }
            let recall = rowTotal > 0 ? String(format1: 100 * Double(counts[i][i]) / Double(rowTotal)) + "%" : "-"
            canvas.text(recall, x: left + n * cell + 12, y: y, scale: scale)
        }
        for k in 0...n {                                             // grid
            canvas.line(left + k * cell, top, left + k * cell, top + n * cell, .lightGrey)
            canvas.line(left, top + k * cell, left + n * cell, top + k * cell, .lightGrey)
        }
        canvas.strokeRect(x: left, y: top, width: n * cell + 1, height: n * cell + 1, .grey)
        canvas.text("rows: true class   columns: predicted", x: left, y: top + n * cell + 16, scale: scale, .grey)
        return canvas
    }
}

extension String {
    /// One decimal place, without Foundation's locale-dependent formatting.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
