import XCTest
@testable import TokenReelPlot

final class PlotTests: XCTestCase {
    /// A PNG must be a byte stream any decoder accepts: check the signature, chunk layout and
    /// CRCs by parsing it back, and inflate IDAT with zlib to recover the exact pixels
    /// (`decodePNG`).
    func testPNGRoundTripsThroughZlib() throws {
        var canvas = Canvas(width: 7, height: 5, background: RGB(10, 20, 30))
        canvas.set(x: 3, y: 2, RGB(200, 100, 50))
        canvas.set(x: 6, y: 4, .white)
        let decoded = try decodePNG(try canvas.png())
        XCTAssertEqual(decoded.width, 7)
        XCTAssertEqual(decoded.height, 5)
        XCTAssertEqual(decoded.rgb, canvas.pixels)
        XCTAssertEqual(canvas.pixel(x: 3, y: 2), RGB(200, 100, 50))
    }

    func testTextDrawsGlyphPixels() {
        var canvas = Canvas(width: 20, height: 10)
        canvas.text("1", x: 0, y: 0)
        // The glyph for "1" has its stem in column 2 on every row but the last, which spans 1...3.
        for y in 0..<6 { XCTAssertEqual(canvas.pixel(x: 2, y: y), .black, "row \(y)") }
        XCTAssertEqual(canvas.pixel(x: 0, y: 0), .white)
        XCTAssertEqual(canvas.pixel(x: 1, y: 6), .black)
        XCTAssertEqual(Canvas.textWidth("ab"), 11)
    }

    func testConfusionMatrixShadesByRowFraction() {
        let chart = ConfusionMatrixChart(labels: ["a", "b"], counts: [[4, 0], [1, 3]], title: "t")
        let canvas = chart.render()
        // The diagonal cell of a perfect row is the darkest colour; an empty cell stays white.
        // Sample cell corners (inside the grid line) rather than their centres, where counts are drawn.
        let left = Canvas.textWidth("a", scale: 2) + 16 + 24
        let top = Canvas.textHeight(scale: 2) + 24 + Canvas.textWidth("a", scale: 2) + 16 + 8
        XCTAssertEqual(canvas.pixel(x: left + 3, y: top + 3), ConfusionMatrixChart.high)
        XCTAssertEqual(canvas.pixel(x: left + ConfusionMatrixChart.cell + 3, y: top + 3), .white)
        let partial = canvas.pixel(x: left + 3, y: top + ConfusionMatrixChart.cell + 3)
        XCTAssertEqual(partial, RGB.mix(.white, ConfusionMatrixChart.high, 0.25))
        XCTAssertEqual(String(format1: 66.66), "66.7")
    }
}
