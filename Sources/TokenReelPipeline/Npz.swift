import CZlib
import Foundation

/// Writes NumPy `.npz` archives (a ZIP of `.npy` files, stored without compression), the format
/// `tokenreel export` hands to the trainer: `numpy.load(path)` reads it with no extra package.
///
/// Format references: NumPy's `.npy` format version 1.0 (magic, version, little-endian header
/// length, a Python-literal header padded so the data starts on a 64-byte boundary) and the ZIP
/// application note (local file headers, central directory, end record). Archives larger than
/// 4 GiB would need ZIP64, which this writer refuses rather than writes wrong.
public struct NpzWriter {
    /// An array to store: little-endian data of `dtype` and `shape`, row-major.
    public struct Entry {
        public var name: String
        public var dtype: String          // NumPy descr, e.g. "|u1", "<i4", "<f4", "<U16"
        public var shape: [Int]
        public var bytes: [UInt8]
    }

    public struct WriteError: Error, CustomStringConvertible {
        public var description: String
    }

    private var entries: [Entry] = []

    public init() {}

    public mutating func add(_ name: String, uint8 values: [UInt8], shape: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not hold \(values.count) values")
        entries.append(Entry(name: name, dtype: "|u1", shape: shape, bytes: values))
    }

    public mutating func add(_ name: String, int32 values: [Int32], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        precondition(shape.reduce(1, *) == values.count)
        entries.append(Entry(name: name, dtype: "<i4", shape: shape, bytes: values.flatMap { $0.littleEndianBytes }))
    }

    public mutating func add(_ name: String, float32 values: [Float], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        precondition(shape.reduce(1, *) == values.count)
        entries.append(Entry(name: name, dtype: "<f4", shape: shape, bytes: values.flatMap { $0.bitPattern.littleEndianBytes }))
    }

    /// Strings as NumPy unicode (`<U n`: n UTF-32 code units each, zero-padded).
    public mutating func add(_ name: String, strings: [String]) {
        let width = max(1, strings.map { $0.unicodeScalars.count }.max() ?? 1)
        var bytes = [UInt8]()
        bytes.reserveCapacity(strings.count * width * 4)
        for s in strings {
            let scalars = Array(s.unicodeScalars)
            for i in 0..<width { bytes += (i < scalars.count ? scalars[i].value : 0).littleEndianBytes }
        }
        entries.append(Entry(name: name, dtype: "<U\(width)", shape: [strings.count], bytes: bytes))
    }

    /// A 0-d string array (NumPy `str(z[name])` gives it back).
    public mutating func add(_ name: String, string: String) {
        add(name, strings: [string])
        entries[entries.count - 1].shape = []
    }

    /// The `.npy` bytes of one entry.
    static func npy(_ e: Entry) -> [UInt8] {
        let shape = e.shape.isEmpty ? "()" : e.shape.count == 1 ? "(\(e.shape[0]),)" : "(" + e.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(e.dtype)', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1                     // magic+version+len, header, '\n'
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        out += UInt16(header.utf8.count).littleEndianBytes
        out += Array(header.utf8)
        out += e.bytes
        return out
    }

    /// Writes the archive atomically (temporary file, then rename).
    public func write(to url: URL) throws {
        var zip = [UInt8]()
        var central = [UInt8]()
        for e in entries {
            let data = Self.npy(e)
            let name = Array((e.name + ".npy").utf8)
            guard zip.count + data.count < Int(UInt32.max) else {
                throw WriteError(description: "\(url.path): more than 4 GiB; write fewer clips per file (ZIP64 is not supported)")
            }
            let crc = data.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: crc32(0, $0.baseAddress, uInt($0.count))) }
            let offset = UInt32(zip.count)
            // Local file header: version 2.0, no flags, method 0 (stored), DOS time/date 0 (1980).
            zip += UInt32(0x0403_4B50).littleEndianBytes + UInt16(20).littleEndianBytes + UInt16(0).littleEndianBytes
            zip += UInt16(0).littleEndianBytes + UInt16(0).littleEndianBytes + UInt16(0x21).littleEndianBytes
            zip += crc.littleEndianBytes + UInt32(data.count).littleEndianBytes + UInt32(data.count).littleEndianBytes
            zip += UInt16(name.count).littleEndianBytes + UInt16(0).littleEndianBytes + name
            zip += data
            central += UInt32(0x0201_4B50).littleEndianBytes + UInt16(20).littleEndianBytes + UInt16(20).littleEndianBytes
            central += UInt16(0).littleEndianBytes + UInt16(0).littleEndianBytes + UInt16(0).littleEndianBytes
            central += UInt16(0x21).littleEndianBytes + crc.littleEndianBytes
            central += UInt32(data.count).littleEndianBytes + UInt32(data.count).littleEndianBytes
            central += UInt16(name.count).littleEndianBytes + UInt16(0).littleEndianBytes + UInt16(0).littleEndianBytes
            central += UInt16(0).littleEndianBytes + UInt16(0).littleEndianBytes + UInt32(0).littleEndianBytes
            central += offset.littleEndianBytes + name
        }
        let centralOffset = UInt32(zip.count)
        zip += central
        zip += UInt32(0x0605_4B50).littleEndianBytes + UInt16(0).littleEndianBytes + UInt16(0).littleEndianBytes
        zip += UInt16(entries.count).littleEndianBytes + UInt16(entries.count).littleEndianBytes
        zip += UInt32(central.count).littleEndianBytes + centralOffset.littleEndianBytes + UInt16(0).littleEndianBytes
        try OutputLayout.writeAtomically(Data(zip), to: url)
    }
}

extension FixedWidthInteger {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}
