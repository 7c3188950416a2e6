import CZlib

/// A minimal PNG encoder for 8-bit RGB images (colour type 2), enough for charts a person looks at.
///
/// Layout (PNG spec, ISO/IEC 15948): signature, IHDR, one IDAT holding the zlib stream of
/// filtered scanlines (filter type 0 on every row: charts are flat colour and deflate well
/// without prediction), IEND. Every chunk carries a CRC-32 over its type and data.
public enum PNG {
    public struct EncodingError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Encodes `rgb` ([height, width, 3] row-major) as a PNG file.
    public static func encode(width: Int, height: Int, rgb: [UInt8]) throws -> [UInt8] {
        precondition(width > 0 && height > 0 && rgb.count == width * height * 3, "rgb must be [height, width, 3]")
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + width * 3))
        for y in 0..<height {
            raw.append(0)                                           // filter type: none
            raw.append(contentsOf: rgb[(y * width * 3)..<((y + 1) * width * 3)])
        }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr = [UInt8]()
        ihdr.appendBigEndian(UInt32(width))
        ihdr.appendBigEndian(UInt32(height))
        ihdr.append(contentsOf: [8, 2, 0, 0, 0])                   // depth 8, RGB, deflate, filter 0, no interlace
        appendChunk("IHDR", ihdr, to: &out)
        appendChunk("IDAT", try deflate(raw), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    private static func deflate(_ data: [UInt8]) throws -> [UInt8] {
        var size = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                compress2(dst.baseAddress, &size, src.baseAddress, uLong(src.count), Z_BEST_COMPRESSION)
            }
        }
        guard status == Z_OK else { throw EncodingError(description: "zlib compress2 failed with status \(status)") }
        return Array(out[0..<Int(size)])
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        out.appendBigEndian(UInt32(data.count))
        var crc = crc32(0, nil, 0)
        crc = typeBytes.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        if !data.isEmpty {
            crc = data.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        }
        out.append(contentsOf: typeBytes)
        out.append(contentsOf: data)
        out.appendBigEndian(UInt32(truncatingIfNeeded: crc))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }
}
