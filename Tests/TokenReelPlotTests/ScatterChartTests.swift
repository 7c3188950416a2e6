import Foundation
import XCTest
@testable import TokenReelPlot

/// `NiceScale` tick generation and `ScatterChart` layout and rendering.
final class ScatterChartTests: XCTestCase {
    // MARK: ticks

    func testNiceSteps() {
        let cases: [(Double, NiceScale.Step)] = [
            (1, .init(mantissa: 1, exponent: 0)), (0.2, .init(mantissa: 2, exponent: -1)), (0.13, .init(mantissa: 2, exponent: -1)),
            (3, .init(mantissa: 5, exponent: 0)), (7, .init(mantissa: 1, exponent: 1)), (0.0004, .init(mantissa: 5, exponent: -4)),
            (250, .init(mantissa: 5, exponent: 2)),
        ]
        for (raw, want) in cases { XCTAssertEqual(NiceScale.niceStep(raw), want, "\(raw)") }
    }

    func testLinearTicksWidenToWholeSteps() {
        let unit = NiceScale.linear(covering: 0.13, 0.87)
        XCTAssertEqual(unit.range, 0 ... 1)
        XCTAssertEqual(unit.ticks.map(\.value), [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(unit.ticks.map(\.label), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let accuracy = NiceScale.linear(covering: 71.25, 78.75)
        XCTAssertEqual(accuracy.ticks.map(\.label), ["70", "72", "74", "76", "78", "80"])
        XCTAssertEqual(accuracy.range, 70 ... 80)
        let signed = NiceScale.linear(covering: -3, 7)
        XCTAssertEqual(signed.ticks.map(\.label), ["-4", "-2", "0", "2", "4", "6", "8"])
        // 0.7 / 0.1 is 6.999999999999999 in doubles: the tick at 0.7 must still be there.
        XCTAssertEqual(NiceScale.linear(covering: 0.3, 0.7, count: 4).ticks.map(\.label), ["0.3", "0.4", "0.5", "0.6", "0.7"])
        XCTAssertEqual(NiceScale.linear(covering: 0, 2000).ticks.map(\.label), ["0", "500", "1000", "1500", "2000"])
        XCTAssertEqual(NiceScale.linear(exactly: 0.05, 0.95).ticks.map(\.label), ["0.2", "0.4", "0.6", "0.8"])
    }

    func testSingleValueRangesAreWidened() {
        let five = NiceScale.linear(covering: 5, 5)
        XCTAssertEqual(five.ticks.map(\.label), ["4.7", "4.8", "4.9", "5.0", "5.1", "5.2", "5.3"])
        XCTAssertEqual(five.fraction(5), 0.5, accuracy: 1e-12)
        XCTAssertEqual(NiceScale.linear(covering: 0, 0).ticks.map(\.label), ["-1.0", "-0.5", "0.0", "0.5", "1.0"])
        let log = NiceScale.logarithmic(covering: 7, 7)                  // 3.5 ... 14
        XCTAssertEqual(log.range, 3.5 ... 14)
        XCTAssertEqual(log.ticks.map(\.label), ["4", "5", "6", "7", "8", "9", "10"])
    }

    func testLogarithmicTicks() {
        let decades = NiceScale.logarithmic(covering: 0.01, 1000)
        XCTAssertEqual(decades.ticks.map(\.label), ["0.01", "0.1", "1", "10", "100", "1000"])
        XCTAssertEqual(decades.ticks.map(\.value), [0.01, 0.1, 1, 10, 100, 1000])
        XCTAssertEqual(NiceScale.logarithmic(covering: 0.3, 4).ticks.map(\.label), ["0.5", "1", "2"])
        // Inside half a decade: linear steps.
        XCTAssertEqual(NiceScale.logarithmic(covering: 2, 3).ticks.map(\.label), ["2.0", "2.5", "3.0"])
        let scale = NiceScale.logarithmic(covering: 1, 100)
        XCTAssertEqual(scale.fraction(10), 0.5, accuracy: 1e-12)
        XCTAssertEqual(scale.fraction(100), 1, accuracy: 1e-12)
    }

    func testLabels() {
        XCTAssertEqual(NiceScale.label(-0.04, decimals: 1), "0.0")      // no "-0.0"
        XCTAssertEqual(NiceScale.label(-2.5, decimals: 1), "-2.5")
        XCTAssertEqual(NiceScale.label(0.05, decimals: 2), "0.05")
        XCTAssertEqual(NiceScale.label(1234.5, decimals: 0), "1235")
        XCTAssertEqual(NiceScale.label(3, decimals: 3), "3.000")
    }

    // MARK: mapping and rendering

    static let red = RGB(220, 0, 0)

    /// A point lands at the pixel computed by hand from the plot area and the explicit ranges,
    /// and the canvas there has the series colour (background white around the marker).
    func testPointsLandWhereTheyShould() throws {
        var chart = ScatterChart(title: "t", x: .init(title: "x", range: 0 ... 10), y: .init(title: "y", range: 0 ... 100),
                                 width: 400, height: 300)
        chart.series = [.init(name: "s", points: [.init(x: 2.5, y: 75), .init(x: 0, y: 0)], marker: .square, colour: Self.red, markerRadius: 2)]
        let l = try chart.layout()
        let canvas = try chart.render()
        let want = (x: l.plotX + Int((0.25 * Double(l.plotWidth - 1)).rounded()), y: l.plotY + l.plotHeight - 1 - Int((0.75 * Double(l.plotHeight - 1)).rounded()))
        XCTAssertTrue(l.pixel(x: 2.5, y: 75) == want, "\(l.pixel(x: 2.5, y: 75)) vs \(want)")
        for (dx, dy) in [(0, 0), (-2, -2), (2, 2), (-2, 2), (2, -2)] {
            XCTAssertEqual(canvas.pixel(x: want.x + dx, y: want.y + dy), Self.red, "(\(dx), \(dy))")
        }
        XCTAssertEqual(canvas.pixel(x: want.x + 4, y: want.y + 1), .white)   // off the square, off the grid lines
        // The low corner of both ranges is the bottom-left pixel of the plot area.
        XCTAssertTrue(l.pixel(x: 0, y: 0) == (l.plotX, l.plotY + l.plotHeight - 1))
        XCTAssertEqual(canvas.pixel(x: l.plotX, y: l.plotY + l.plotHeight - 1), Self.red)
        XCTAssertEqual(l.xScale.ticks.map(\.label), ["0", "2", "4", "6", "8", "10"])
    }

    func testLogAxisJoinedLinesAndLabels() throws {
        var chart = ScatterChart(title: "t", x: .init(title: "GFLOPs", logarithmic: true, range: 1 ... 100), y: .init(title: "acc", range: 0 ... 10),
                                 width: 400, height: 300)
        chart.series = [.init(name: "s", points: [.init(x: 1, y: 5), .init(x: 100, y: 5, label: "AB")], joined: true, colour: Self.red, markerRadius: 3)]
        let l = try chart.layout()
        let canvas = try chart.render()
        let mid = l.pixel(x: 10, y: 5)
        XCTAssertEqual(mid.x, l.plotX + (l.plotWidth - 1) / 2, accuracy: 1)  // 10 is half-way from 1 to 100
        XCTAssertEqual(canvas.pixel(x: mid.x, y: mid.y), Self.red)           // on the line between the points
        XCTAssertEqual(canvas.pixel(x: mid.x, y: mid.y - 4), ScatterChart.grid)   // the grid line at the decade 10
        XCTAssertEqual(canvas.pixel(x: mid.x + 3, y: mid.y - 4), .white)
        // The label's first glyph ("A": its top row is columns 1...3) sits right of and above the marker.
        let end = l.pixel(x: 100, y: 5), top = end.y - 3 - 7
        XCTAssertEqual(canvas.pixel(x: end.x + 3 + 3 + 2, y: top), .black)
    }

    func testLabelsOfNearbyPointsDoNotOverlap() {
        typealias R = ScatterChart.LabelRequest
        let bounds = ScatterChart.LabelBox(x: 0, y: 0, width: 200, height: 100)
        // Two points 2 px apart (the sweep's t=0.52 and t=0.6): the second label moves below.
        let two = ScatterChart.placeLabels([R(x: 50, y: 50, width: 30, height: 7, radius: 2),
                                            R(x: 52, y: 51, width: 30, height: 7, radius: 2)], within: bounds)
        XCTAssertEqual(two[0], .init(x: 55, y: 41, width: 30, height: 7))       // above right
        XCTAssertEqual(two[1], .init(x: 57, y: 53, width: 30, height: 7))       // below right
        // Near the right edge, left of the point; a fifth label with every place taken is left out.
        let edge = ScatterChart.placeLabels([R(x: 190, y: 50, width: 30, height: 7, radius: 2)], within: bounds)
        XCTAssertEqual(edge[0], .init(x: 155, y: 41, width: 30, height: 7))
        let crowd = ScatterChart.placeLabels(Array(repeating: R(x: 100, y: 50, width: 30, height: 7, radius: 2), count: 5), within: bounds)
        XCTAssertEqual(crowd.compactMap { $0 }.count, 4)
        XCTAssertNil(crowd[4])
        let boxes = crowd.compactMap { $0 }
        for (i, a) in boxes.enumerated() { for b in boxes[(i + 1)...] { XCTAssertFalse(a.overlaps(b)) } }
    }

    func testEveryMarkerDrawsItsCentreAndTheLegend() throws {
        var chart = ScatterChart(title: "markers", x: .init(title: "x", range: 0 ... 6), y: .init(title: "y", range: 0 ... 1), width: 500, height: 300)
        chart.series = ScatterChart.Marker.allCases.enumerated().map { i, m in
            .init(name: "m\(i)", points: [.init(x: Double(i + 1), y: 0.5)], marker: m, colour: Self.red, markerRadius: 4)
        }
        let l = try chart.layout()
        let canvas = try chart.render()
        for (i, m) in ScatterChart.Marker.allCases.enumerated() {
            let p = l.pixel(x: Double(i + 1), y: 0.5)
            XCTAssertEqual(canvas.pixel(x: p.x, y: p.y), Self.red, "\(m)")
            XCTAssertEqual(canvas.pixel(x: p.x + 8, y: p.y + 8), .white, "\(m) stays within its radius")
        }
        // Legend markers sit right of the plot, one row per series.
        let legendX = l.plotX + l.plotWidth + 12 + 4 + 11
        XCTAssertEqual(canvas.pixel(x: legendX, y: l.plotY + 8), Self.red)
    }

    /// Empty and degenerate input: nothing crashes, a lone point sits in the middle of the plot.
    func testEmptyAndDegenerateInput() throws {
        let empty = ScatterChart(title: "", x: .init(title: ""), y: .init(title: ""), width: 200, height: 150)
        XCTAssertEqual(try empty.layout().xScale.range, 0 ... 1)
        XCTAssertNoThrow(try empty.render())
        var noPoints = empty
        noPoints.series = [.init(name: "none", points: [])]
        noPoints.x.logarithmic = true
        XCTAssertEqual(try noPoints.layout().xScale.range, 1 ... 10)
        XCTAssertNoThrow(try noPoints.render())
        for log in [false, true] {
            var single = empty
            single.x.logarithmic = log
            single.series = [.init(name: "one", points: Array(repeating: .init(x: 3, y: 80), count: 3), joined: true, colour: Self.red)]
            let l = try single.layout()
            let canvas = try single.render()
            let p = l.pixel(x: 3, y: 80)
            XCTAssertEqual(p.x, l.plotX + (l.plotWidth - 1) / 2, accuracy: 1, "log \(log)")
            XCTAssertEqual(p.y, l.plotY + (l.plotHeight - 1) / 2, accuracy: 1, "log \(log)")
            XCTAssertEqual(canvas.pixel(x: p.x, y: p.y), Self.red)
        }
        // A tiny canvas still renders (the plot area shrinks to its minimum).
        var tiny = empty
        tiny.width = 10; tiny.height = 10
        XCTAssertNoThrow(try tiny.render())
    }

    func testValuesTheChartCannotShowAreErrors() {
        var chart = ScatterChart(title: "t", x: .init(title: "GFLOPs", logarithmic: true), y: .init(title: "acc"))
        chart.series = [.init(name: "keep", points: [.init(x: 1, y: 2), .init(x: 0, y: 3)])]
        XCTAssertThrowsError(try chart.render()) {
            XCTAssertEqual("\($0)", "series \"keep\" point 1: x = 0.0 cannot be placed on the logarithmic x axis \"GFLOPs\"")
        }
        chart.series = [.init(name: "keep", points: [.init(x: 1, y: .nan)])]
        XCTAssertThrowsError(try chart.render()) { XCTAssertTrue("\($0)".contains("y = nan is not finite"), "\($0)") }
        chart.series = []
        chart.y.range = 5 ... 5
        XCTAssertThrowsError(try chart.render()) { XCTAssertTrue("\($0)".contains("y axis \"acc\": range 5.0...5.0"), "\($0)") }
    }

    /// An example trade-off figure (accuracy against GFLOPs per clip, log x), written to the
    /// temporary directory for a person to look at; checked to decode to the canvas pixels.
    func testTradeoffExampleRender() throws {
        let chart = ScatterChart(
            title: "Motion10 test: accuracy against compute",
            x: .init(title: "GFLOPs per clip", logarithmic: true), y: .init(title: "accuracy (%)"),
            series: [
                .init(name: "input size", points: [.init(x: 0.21, y: 61, label: "32"), .init(x: 0.47, y: 70.3, label: "48"), .init(x: 1.78, y: 76.7, label: "64")], joined: true),
                .init(name: "keep rate", points: [.init(x: 0.9, y: 74.9, label: "0.5"), .init(x: 1.25, y: 76.1, label: "0.7")], joined: true, marker: .square),
                .init(name: "cascade", points: [.init(x: 0.55, y: 73.2), .init(x: 0.8, y: 75.8), .init(x: 1.1, y: 76.5)], joined: true, marker: .triangle),
                .init(name: "full model", points: [.init(x: 1.78, y: 76.7)], marker: .diamond, colour: .black, markerRadius: 7),
                .init(name: "TokenLearner, no cut", points: [.init(x: 2.4, y: 77.0)], marker: .cross, colour: .black, markerRadius: 6),
            ],
            width: 720, height: 480)
        let canvas = try chart.render()
        let png = try canvas.png()
        let decoded = try decodePNG(png)
        XCTAssertEqual(decoded.width, 720)
        XCTAssertEqual(decoded.height, 480)
        XCTAssertEqual(decoded.rgb, canvas.pixels)
        XCTAssertEqual(try chart.layout().xScale.ticks.map(\.label), ["0.2", "0.5", "1", "2"])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tokenreel-tradeoff-example.png")
        try Data(png).write(to: url)
        print("example trade-off chart: \(url.path)")
    }
}
