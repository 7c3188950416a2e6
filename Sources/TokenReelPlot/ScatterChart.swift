import Foundation

/// A scatter / line chart: named series of (x, y) points, each optionally joined by lines and
/// labelled, on axes with nice ticks (`NiceScale`; x or y may be logarithmic), with a title,
/// axis titles and a legend to the right of the plot.
///
/// Made for trade-off figures such as the SuperViT and DVT papers draw: accuracy (%) against
/// GFLOPs per clip, or against clips/s, one series per family of operating points, and
/// reference models as series of their own with a distinct marker:
///
///     var chart = ScatterChart(title: "Motion10 test", x: .init(title: "GFLOPs per clip", logarithmic: true),
///                              y: .init(title: "accuracy (%)"))
///     chart.series.append(.init(name: "keep rate", points: [.init(x: 0.9, y: 81, label: "0.5"),
///                                                           .init(x: 1.3, y: 82.4, label: "0.7")], joined: true))
///     chart.series.append(.init(name: "full model", points: [.init(x: 1.8, y: 82.9)], marker: .diamond, colour: .black))
///     let png = try chart.render().png()
///
/// Points are drawn in the order given (lines join them in that order). Ranges not given are
/// the data's, padded by 4% and, on a linear axis, widened to whole tick steps.
public struct ScatterChart: Sendable {
    /// The shape drawn at each point.
    public enum Marker: Sendable, CaseIterable {
        case circle, square, diamond, triangle, cross
    }

    public struct Point: Equatable, Sendable {
        public var x: Double
        public var y: Double
        /// Short text drawn beside the marker (nil: none).
        public var label: String?

        public init(x: Double, y: Double, label: String? = nil) {
            self.x = x; self.y = y; self.label = label
        }
    }

    public struct Series: Sendable {
        public var name: String
        public var points: [Point]
        /// Lines between consecutive points.
        public var joined: Bool
        public var marker: Marker
        /// nil: the next colour of `ScatterChart.palette` (by series index).
        public var colour: RGB?
        /// Marker half-size in pixels.
        public var markerRadius: Int

        public init(name: String, points: [Point], joined: Bool = false, marker: Marker = .circle, colour: RGB? = nil, markerRadius: Int = 5) {
            self.name = name; self.points = points; self.joined = joined
            self.marker = marker; self.colour = colour; self.markerRadius = markerRadius
        }
    }

    public struct Axis: Sendable {
        public var title: String
        /// Positions proportional to log10 of the value (values must be positive).
        public var logarithmic: Bool
        /// The values shown; nil: the data's (see `ScatterChart`).
        public var range: ClosedRange<Double>?

        public init(title: String, logarithmic: Bool = false, range: ClosedRange<Double>? = nil) {
            self.title = title; self.logarithmic = logarithmic; self.range = range
        }
    }

    /// Why a chart cannot be drawn: a value that is not finite, a non-positive value or range
    /// on a logarithmic axis, or an empty range.
    public struct ChartError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public var title: String
    public var x: Axis
    public var y: Axis
    public var series: [Series]
    /// Canvas size in pixels.
    public var width: Int
    public var height: Int

    /// Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), without
    /// their yellow, which is too light on white.
    public static let palette = [RGB(0, 114, 178), RGB(230, 159, 0), RGB(0, 158, 115), RGB(213, 94, 0),
                                 RGB(204, 121, 167), RGB(86, 180, 233), RGB(0, 0, 0)]

    public init(title: String, x: Axis, y: Axis, series: [Series] = [], width: Int = 900, height: Int = 600) {
        self.title = title; self.x = x; self.y = y; self.series = series
        self.width = width; self.height = height
    }

    /// Where things go on the canvas: the plot area (inside the frame) and the two scales.
    public struct Layout: Sendable {
        /// Left column and top row of the plot area, in canvas pixels.
        public let plotX: Int, plotY: Int
        public let plotWidth: Int, plotHeight: Int
        public let xScale: NiceScale, yScale: NiceScale

        /// The canvas pixel of data point (x, y): the low end of each range at the first
        /// column / last row of the plot area, the high end at the last column / first row.
        public func pixel(x: Double, y: Double) -> (x: Int, y: Int) {
            (plotX + Int((xScale.fraction(x) * Double(plotWidth - 1)).rounded()),
             plotY + plotHeight - 1 - Int((yScale.fraction(y) * Double(plotHeight - 1)).rounded()))
        }
    }

    static let textScale = 2, labelScale = 1, tickLength = 5, pad = 12
    static let frame = RGB.grey, grid = RGB(235, 235, 235)

    /// The layout `render` uses.
    ///
    /// - Throws: `ChartError` for values a scale cannot show.
    public func layout() throws -> Layout {
        try check()
        let xs = Self.scale(x, series.flatMap { $0.points.map(\.x) })
        let ys = Self.scale(y, series.flatMap { $0.points.map(\.y) })
        let s = Self.textScale, th = Canvas.textHeight(scale: s)
        let yLabels = ys.ticks.map { Canvas.textWidth($0.label, scale: s) }.max() ?? 0
        let left = Self.pad + th + Self.pad + yLabels + 6 + Self.tickLength
        let top = Self.pad + th + 2 * Self.pad
        let right = legendWidth() + 2 * Self.pad
        let bottom = Self.tickLength + 6 + th + Self.pad + th + Self.pad
        return Layout(plotX: left, plotY: top, plotWidth: max(width - left - right, 2), plotHeight: max(height - top - bottom, 2),
                      xScale: xs, yScale: ys)
    }

    /// Draws the chart.
    ///
    /// - Throws: `ChartError` naming the series and point (or axis) of a value the chart cannot
    ///   show: not finite, or not positive on a logarithmic axis; or an axis range that is empty
    ///   (or not positive on a logarithmic axis).
    public func render() throws -> Canvas {
        let l = try layout()
        var canvas = Canvas(width: width, height: height)
        drawAxes(l, on: &canvas)
        let colours = series.indices.map { series[$0].colour ?? Self.palette[$0 % Self.palette.count] }
        let inside = { (p: Point) in l.xScale.range.contains(p.x) && l.yScale.range.contains(p.y) }
        for (s, c) in zip(series, colours) where s.joined {
            for (a, b) in zip(s.points, s.points.dropFirst()) where inside(a) && inside(b) {
                let pa = l.pixel(x: a.x, y: a.y), pb = l.pixel(x: b.x, y: b.y)
                canvas.line(pa.x, pa.y, pb.x, pb.y, c, thickness: 2)
            }
        }
        var labels: [(text: String, request: LabelRequest)] = []
        let th = Canvas.textHeight(scale: Self.labelScale)
        for (s, c) in zip(series, colours) {
            for p in s.points where inside(p) {
                let at = l.pixel(x: p.x, y: p.y)
                Self.drawMarker(s.marker, x: at.x, y: at.y, radius: s.markerRadius, c, on: &canvas)
                if let text = p.label {
                    labels.append((text, LabelRequest(x: at.x, y: at.y, width: Canvas.textWidth(text, scale: Self.labelScale),
                                                      height: th, radius: s.markerRadius)))
                }
            }
        }
        let boxes = Self.placeLabels(labels.map(\.request), within: LabelBox(x: 0, y: 0, width: width, height: height))
        for (label, box) in zip(labels, boxes) {
            if let box { canvas.text(label.text, x: box.x, y: box.y, scale: Self.labelScale, .black) }
        }
        drawLegend(l, colours, on: &canvas)
        return canvas
    }

    /// A label's text rectangle (top left corner and size, in pixels).
    struct LabelBox: Equatable {
        var x: Int, y: Int, width: Int, height: Int
        func overlaps(_ o: LabelBox) -> Bool {
            x < o.x + o.width && o.x < x + width && y < o.y + o.height && o.y < y + height
        }
        func contains(_ o: LabelBox) -> Bool {
            o.x >= x && o.y >= y && o.x + o.width <= x + width && o.y + o.height <= y + height
        }
    }

    /// A point's label to place: its anchor (the point's pixel), text size, and the marker's radius.
    struct LabelRequest {
        var x: Int, y: Int, width: Int, height: Int, radius: Int
    }

    /// Greedy placement in order: each label goes above right of its point (beside the marker, 3 px
    /// to its right, its bottom at the marker's top), else below right, above left, below left,
    /// whichever first overlaps no label placed before it and stays within `bounds`; a label with
    /// no such place is left out (nil) rather than drawn over another, since two overlapping
    /// labels are both unreadable.
    static func placeLabels(_ requests: [LabelRequest], within bounds: LabelBox) -> [LabelBox?] {
        var placed: [LabelBox] = []
        return requests.map { r in
            let right = r.x + r.radius + 3, left = r.x - r.radius - 3 - r.width
            let above = r.y - r.radius - r.height, below = r.y + r.radius
            let candidates = [(right, above), (right, below), (left, above), (left, below)]
                .map { LabelBox(x: $0.0, y: $0.1, width: r.width, height: r.height) }
            guard let box = candidates.first(where: { c in bounds.contains(c) && !placed.contains(where: c.overlaps) }) else { return nil }
            placed.append(box)
            return box
        }
    }

    // MARK: parts

    private func check() throws {
        for (axis, name) in [(x, "x"), (y, "y")] {
            guard let r = axis.range else { continue }
            if !(r.lowerBound.isFinite && r.upperBound.isFinite && r.lowerBound < r.upperBound) {
                throw ChartError(description: "\(name) axis \"\(axis.title)\": range \(r) must be finite and not empty")
            }
            if axis.logarithmic, r.lowerBound <= 0 {
                throw ChartError(description: "\(name) axis \"\(axis.title)\": range \(r) must be positive on a logarithmic axis")
            }
        }
        for s in series {
            for (i, p) in s.points.enumerated() {
                for (v, axis, name) in [(p.x, x, "x"), (p.y, y, "y")] {
                    if !v.isFinite { throw ChartError(description: "series \"\(s.name)\" point \(i): \(name) = \(v) is not finite") }
                    if axis.logarithmic, v <= 0 {
                        throw ChartError(description: "series \"\(s.name)\" point \(i): \(name) = \(v) cannot be placed on the logarithmic \(name) axis \"\(axis.title)\"")
                    }
                }
            }
        }
    }

    /// The scale of `axis` for data `values` (checked by `check`).
    static func scale(_ axis: Axis, _ values: [Double]) -> NiceScale {
        if let r = axis.range {
            return axis.logarithmic ? .logarithmic(covering: r.lowerBound, r.upperBound) : .linear(exactly: r.lowerBound, r.upperBound)
        }
        guard let lo = values.min(), let hi = values.max() else {
            return axis.logarithmic ? .logarithmic(covering: 1, 10) : .linear(covering: 0, 1)
        }
        if axis.logarithmic {
            guard lo < hi else { return .logarithmic(covering: lo, hi) }
            let f = pow(hi / lo, 0.04)
            return .logarithmic(covering: lo / f, hi * f)
        }
        let pad = (hi - lo) * 0.04
        return .linear(covering: lo - pad, hi + pad)
    }

    private func legendWidth() -> Int {
        let names = series.map { Canvas.textWidth($0.name, scale: Self.textScale) }.max() ?? 0
        return names == 0 ? 0 : 32 + names
    }

    /// Grid lines, frame, ticks and their labels, axis titles and the title.
    private func drawAxes(_ l: Layout, on canvas: inout Canvas) {
        let s = Self.textScale, th = Canvas.textHeight(scale: s)
        let bottom = l.plotY + l.plotHeight - 1, right = l.plotX + l.plotWidth - 1
        for t in l.xScale.ticks {
            let px = l.pixel(x: t.value, y: l.yScale.range.lowerBound).x
            canvas.line(px, l.plotY, px, bottom, Self.grid)
        }
        for t in l.yScale.ticks {
            let py = l.pixel(x: l.xScale.range.lowerBound, y: t.value).y
            canvas.line(l.plotX, py, right, py, Self.grid)
        }
        canvas.strokeRect(x: l.plotX - 1, y: l.plotY - 1, width: l.plotWidth + 2, height: l.plotHeight + 2, Self.frame)
        var labelEnd = Int.min                                   // x labels that would overlap are skipped
        for t in l.xScale.ticks {
            let px = l.pixel(x: t.value, y: l.yScale.range.lowerBound).x
            canvas.line(px, bottom + 1, px, bottom + Self.tickLength, Self.frame)
            let w = Canvas.textWidth(t.label, scale: s)
            if px - w / 2 > labelEnd + 6 {
                canvas.text(t.label, x: px - w / 2, y: bottom + Self.tickLength + 6, scale: s)
                labelEnd = px - w / 2 + w
            }
        }
        for t in l.yScale.ticks {
            let py = l.pixel(x: l.xScale.range.lowerBound, y: t.value).y
            canvas.line(l.plotX - Self.tickLength, py, l.plotX - 1, py, Self.frame)
            canvas.text(t.label, x: l.plotX - Self.tickLength - 6 - Canvas.textWidth(t.label, scale: s), y: py - th / 2, scale: s)
        }
        canvas.text(x.title, x: l.plotX + (l.plotWidth - Canvas.textWidth(x.title, scale: s)) / 2,
                    y: bottom + Self.tickLength + 6 + th + Self.pad, scale: s)
        canvas.text(y.title, x: Self.pad, y: l.plotY + (l.plotHeight + Canvas.textWidth(y.title, scale: s)) / 2, scale: s, vertical: true)
        canvas.text(title, x: l.plotX, y: Self.pad, scale: s)
    }

    /// One row per series right of the plot: a line sample (joined series), the marker, the name.
    private func drawLegend(_ l: Layout, _ colours: [RGB], on canvas: inout Canvas) {
        let s = Self.textScale, th = Canvas.textHeight(scale: s)
        let x0 = l.plotX + l.plotWidth + Self.pad + 4
        for (i, (series, c)) in zip(series, colours).enumerated() {
            let cy = l.plotY + 8 + i * (th + 10)
            if series.joined { canvas.line(x0, cy, x0 + 22, cy, c, thickness: 2) }
            Self.drawMarker(series.marker, x: x0 + 11, y: cy, radius: min(series.markerRadius, 6), c, on: &canvas)
            canvas.text(series.name, x: x0 + 32, y: cy - th / 2, scale: s)
        }
    }

    /// A filled marker centred on (x, y) spanning 2 radius + 1 pixels (the cross: two strokes).
    static func drawMarker(_ m: Marker, x: Int, y: Int, radius r: Int, _ c: RGB, on canvas: inout Canvas) {
        switch m {
        case .circle:
            canvas.fillCircle(cx: x, cy: y, radius: r, c)
        case .square:
            canvas.fillRect(x: x - r, y: y - r, width: 2 * r + 1, height: 2 * r + 1, c)
        case .diamond:
            for dy in -r ... r { canvas.line(x - (r - abs(dy)), y + dy, x + (r - abs(dy)), y + dy, c) }
        case .triangle:                                          // apex up, base on the bottom row
            for k in 0 ... 2 * r { canvas.line(x - k / 2, y - r + k, x + k / 2, y - r + k, c) }
        case .cross:
            canvas.line(x - r, y - r, x + r, y + r, c, thickness: 2)
            canvas.line(x - r, y + r, x + r, y - r, c, thickness: 2)
        }
    }
}
