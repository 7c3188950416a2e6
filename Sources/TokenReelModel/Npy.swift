import Foundation

/// NumPy `.npy` files (format 1.0 to 3.0), little-endian, C order: float32 (`<f4`) read and
/// written, uint8 (`|u1`) read. Enough for `tokenreel model run` and the test fixtures.
public enum Npy {
    /// An array read from a `.npy` file.
    public enum Array: Sendable {
        case float32(Tensor)
        case uint8(shape: [Int], data: [UInt8])

        public var shape: [Int] {
            switch self { case let .float32(t): return t.shape; case let .uint8(s, _): return s }
        }
    }

    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// Reads a `.npy` file; throws `Npy.Error` naming the file for anything else than a
    /// C-order `<f4` or `|u1` array.
    public static func read(_ url: URL) throws -> Array {
        let path = url.path
        func fail(_ m: String) -> Error { Error(path: path, message: m) }
        let bytes: Data
        do { bytes = try Data(contentsOf: url) } catch { throw fail("cannot read: \(error.localizedDescription)") }
        guard bytes.count >= 10, bytes.prefix(6) == Data([0x93] + Swift.Array("NUMPY".utf8)) else { throw fail("not a .npy file (bad magic)") }
        let major = bytes[bytes.startIndex + 6]
        let headerLen: Int, start: Int
        if major == 1 {
            headerLen = Int(bytes[bytes.startIndex + 8]) | Int(bytes[bytes.startIndex + 9]) << 8; start = 10
        } else if major == 2 || major == 3, bytes.count >= 12 {
            headerLen = (0 ..< 4).reduce(0) { $0 | Int(bytes[bytes.startIndex + 8 + $1]) << (8 * $1) }; start = 12
        } else { throw fail("unsupported .npy version \(major)") }
        guard start + headerLen <= bytes.count,
              let header = String(data: bytes.subdata(in: bytes.startIndex + start ..< bytes.startIndex + start + headerLen), encoding: .utf8)
        else { throw fail("header runs past the end of the file") }
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr"), let order = field("fortran_order"), let shapeText = field("shape") else { throw fail("header lacks descr, fortran_order or shape") }
        if order.hasPrefix("True") { throw fail("Fortran-order arrays are not supported") }
        guard let open = shapeText.firstIndex(of: "("), let close = shapeText.firstIndex(of: ")") else { throw fail("bad shape in header") }
        let shape = shapeText[shapeText.index(after: open) ..< close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let body = bytes.subdata(in: bytes.startIndex + start + headerLen ..< bytes.endIndex)
        if descr.hasPrefix("'<f4'") {
            guard body.count == count * 4 else { throw fail("\(body.count) data bytes for float32 \(shape), expected \(count * 4)") }
            var values = [Float](repeating: 0, count: count)
            _ = values.withUnsafeMutableBytes { body.copyBytes(to: $0) }
            return .float32(Tensor(shape: shape, data: values))
        }
        if descr.hasPrefix("'|u1'") {
            guard body.count == count else { throw fail("\(body.count) data bytes for uint8 \(shape), expected \(count)") }
            return .uint8(shape: shape, data: [UInt8](body))
        }
        throw fail("dtype \(descr.prefix(while: { $0 != "," })) is not supported (float32 '<f4' or uint8 '|u1')")
    }

    /// Reads a float32 array (uint8 arrays are refused, not converted).
    public static func readFloat32(_ url: URL) throws -> Tensor {
        switch try read(url) {
        case let .float32(t): return t
        case .uint8: throw Error(path: url.path, message: "dtype uint8, expected float32 ('<f4')")
        }
    }

    /// Writes a float32 array as `.npy` version 1.0.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        let dims = tensor.shape.map(String.init).joined(separator: ", ") + (tensor.shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Swift.Array("NUMPY".utf8) + [1, 0])
        let n = header.utf8.count
        data.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8)])
        data.append(contentsOf: Swift.Array(header.utf8))
        tensor.data.withUnsafeBytes { data.append(contentsOf: $0) }
        do { try data.write(to: url, options: .atomic) } catch { throw Error(path: url.path, message: "cannot write: \(error.localizedDescription)") }
    }
}
