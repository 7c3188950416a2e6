import XCTest
@testable import TokenReelPlot

final class PlotTests: XCTestCase {
    /// A PNG must be a byte stream any decoder accepts: check the signature, chunk layout and
    /// CRCs by parsing it back, and inflate IDAT with zlib to recover the exact pixels.
    func testPNGRoundTripsThroughZlib() throws {
        var canvas = Canvas(width: 7, height: 5, background: RGB(10, 20, 30))
        canvas.set(x: 3, y: 2, RGB(200, 100, 50))
        canvas.set(x: 6, y: 4, .white)
        let png = try canvas.png()
        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let chunks = try parseChunks(png)
        XCTAssertEqual(chunks.map(\.type), ["IHDR", "IDAT", "IEND"])
        XCTAssertEqual(Array(chunks[0].data[0..<8]), [0, 0, 0, 7, 0, 0, 0, 5])
        let raw = try inflate(chunks[1].data, expected: 5 * (1 + 7 * 3))
        for y in 0..<5 {
            XCTAssertEqual(raw[y * 22], 0, "filter byte of row \(y)")
            XCTAssertEqual(Array(raw[(y * 22 + 1)..<((y + 1) * 22)]), Array(canvas.pixels[(y * 21)..<((y + 1) * 21)]))
        }
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

    // MARK: helpers

    private func parseChunks(_ png: [UInt8]) throws -> [(type: String, data: [UInt8])] {
        var i = 8, chunks: [(String, [UInt8])] = []
        while i < png.count {
            let len = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
            let type = String(decoding: png[(i + 4)..<(i + 8)], as: UTF8.self)
            let data = Array(png[(i + 8)..<(i + 8 + len)])
            let stored = UInt32(png[i + 8 + len]) << 24 | UInt32(png[i + 9 + len]) << 16
                | UInt32(png[i + 10 + len]) << 8 | UInt32(png[i + 11 + len])
            XCTAssertEqual(stored, crc32(Array(png[(i + 4)..<(i + 8 + len)])), "CRC of \(type)")
            chunks.append((type, data))
            i += 12 + len
        }
        return chunks
    }

    /// Bitwise CRC-32 (the PNG polynomial), independent of the zlib routine the encoder uses.
    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }
}

import CZlib

private func inflate(_ data: [UInt8], expected: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: expected)
    var size = uLong(expected)
    let status = data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in uncompress(dst.baseAddress, &size, src.baseAddress, uLong(src.count)) }
    }
    XCTAssertEqual(status, Z_OK)
    XCTAssertEqual(Int(size), expected)
    return out
}
