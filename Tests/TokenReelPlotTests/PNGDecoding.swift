import XCTest
import CZlib

// A test-side PNG reader, independent of the encoder: chunks parsed by hand, CRCs checked with a
// bitwise CRC-32, IDAT inflated with zlib.

/// The chunks of `png` after its signature, each CRC checked.
func parseChunks(_ png: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> [(type: String, data: [UInt8])] {
    var i = 8, chunks: [(String, [UInt8])] = []
    while i < png.count {
        let len = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
        let type = String(decoding: png[(i + 4)..<(i + 8)], as: UTF8.self)
        let data = Array(png[(i + 8)..<(i + 8 + len)])
        let stored = UInt32(png[i + 8 + len]) << 24 | UInt32(png[i + 9 + len]) << 16
            | UInt32(png[i + 10 + len]) << 8 | UInt32(png[i + 11 + len])
        XCTAssertEqual(stored, crc32(Array(png[(i + 4)..<(i + 8 + len)])), "CRC of \(type)", file: file, line: line)
        chunks.append((type, data))
        i += 12 + len
    }
    return chunks
}

/// Bitwise CRC-32 (the PNG polynomial), independent of the zlib routine the encoder uses.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return c ^ 0xFFFF_FFFF
}

/// zlib-inflates `data`, which must hold exactly `expected` bytes.
func inflate(_ data: [UInt8], expected: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: expected)
    var size = uLong(expected)
    let status = data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in uncompress(dst.baseAddress, &size, src.baseAddress, uLong(src.count)) }
    }
    XCTAssertEqual(status, Z_OK, file: file, line: line)
    XCTAssertEqual(Int(size), expected, file: file, line: line)
    return out
}

/// An 8-bit RGB PNG with unfiltered rows (what `PNG.encode` writes) -> width, height and the
/// [height, width, 3] pixels.
func decodePNG(_ png: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> (width: Int, height: Int, rgb: [UInt8]) {
    XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "signature", file: file, line: line)
    let chunks = try parseChunks(png, file: file, line: line)
    XCTAssertEqual(chunks.map(\.type), ["IHDR", "IDAT", "IEND"], file: file, line: line)
    let h = chunks[0].data
    let width = Int(h[0]) << 24 | Int(h[1]) << 16 | Int(h[2]) << 8 | Int(h[3])
    let height = Int(h[4]) << 24 | Int(h[5]) << 16 | Int(h[6]) << 8 | Int(h[7])
    XCTAssertEqual(Array(h[8...]), [8, 2, 0, 0, 0], "depth 8, RGB", file: file, line: line)
    let stride = 1 + width * 3
    let raw = try inflate(chunks[1].data, expected: height * stride, file: file, line: line)
    var rgb = [UInt8]()
    for y in 0..<height {
        XCTAssertEqual(raw[y * stride], 0, "filter byte of row \(y)", file: file, line: line)
        rgb += raw[(y * stride + 1)..<((y + 1) * stride)]
    }
    return (width, height, rgb)
}
