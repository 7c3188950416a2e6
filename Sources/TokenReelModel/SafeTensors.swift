import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory map of a whole file; unmapped in `deinit`. The one owner of the mapping.
final class MappedFile {
    let path: String
    let base: UnsafeRawPointer
    let size: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelError(.io, path: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelError(.io, path: path, "cannot stat: \(String(cString: strerror(errno)))") }
        size = Int(st.st_size)
        guard size > 0 else { throw ModelError(.header, path: path, "empty file (a safetensors file starts with an 8-byte header length)") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ModelError(.io, path: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }
}

/// One tensor entry of a safetensors header.
struct SafeTensorEntry {
    enum DType: String { case f32 = "F32", f16 = "F16", bf16 = "BF16" }
    var name: String
    var dtype: DType
    var shape: [Int]
    /// Byte range relative to the start of the data section.
    var begin: Int, end: Int
}

/// A parsed safetensors file: the checked header and the mapped bytes.
///
/// Format: 8-byte little-endian header length n, n bytes of JSON
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}`,
/// then the data section. Every check names the file and the tensor.
final class SafeTensorsFile {
    let file: MappedFile
    let entries: [String: SafeTensorEntry]
    let metadata: [String: String]
    /// Offset of the data section in the file.
    let dataStart: Int

    var path: String { file.path }

    init(path: String) throws {
        file = try MappedFile(path: path)
        let size = file.size
        guard size >= 8 else { throw ModelError(.header, path: path, "file is \(size) bytes, shorter than the 8-byte header length") }
        let n = Int(UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self)))
        guard n > 0, n <= size - 8 else {
            throw ModelError(.header, path: path, "header length \(n) runs past the end of the file (\(size) bytes)")
        }
        dataStart = 8 + n
        let json = Data(bytes: file.base + 8, count: n)
        guard let obj = try? JSONSerialization.jsonObject(with: json), let dict = obj as? [String: Any] else {
            throw ModelError(.header, path: path, "header is not a JSON object")
        }
        var entries = [String: SafeTensorEntry]()
        var metadata = [String: String]()
        var problems = [String]()
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { problems.append("__metadata__ is not an object"); continue }
                for (k, v) in m {
                    if let s = v as? String { metadata[k] = s } else { problems.append("__metadata__.\(k) is not a string") }
                }
                continue
            }
            guard let e = value as? [String: Any], let dt = e["dtype"] as? String,
                  let shape = (e["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offs = (e["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offs.count == 2
            else { problems.append("\(name): entry lacks dtype, shape or data_offsets"); continue }
            guard let dtype = SafeTensorEntry.DType(rawValue: dt) else {
                problems.append("\(name): dtype \(dt) is not supported (F32, F16, BF16)"); continue
            }
            let count = shape.reduce(1, *)
            let width = dtype == .f32 ? 4 : 2
            if shape.contains(where: { $0 < 0 }) { problems.append("\(name): negative dimension in \(shape)"); continue }
            if offs[0] < 0 || offs[1] < offs[0] || offs[1] > size - dataStart {
                problems.append("\(name): data_offsets \(offs) outside the data section (\(size - dataStart) bytes)"); continue
            }
            if offs[1] - offs[0] != count * width {
                problems.append("\(name): \(offs[1] - offs[0]) bytes for \(dt) \(shape), expected \(count * width)"); continue
            }
            entries[name] = SafeTensorEntry(name: name, dtype: dtype, shape: shape, begin: offs[0], end: offs[1])
        }
        let sorted = entries.values.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            problems.append("\(a.name) [\(a.begin), \(a.end)) and \(b.name) [\(b.begin), \(b.end)) overlap")
        }
        guard problems.isEmpty else { throw ModelError(.header, path: path, problems) }
        self.entries = entries
        self.metadata = metadata
    }

    /// The tensor's values as float32: a pointer into the map when stored as aligned F32,
    /// otherwise converted into `storage` (which the caller keeps alive).
    func floats(_ e: SafeTensorEntry, storage: inout [FloatBuffer]) -> UnsafePointer<Float> {
        let raw = file.base + dataStart + e.begin
        let count = e.shape.reduce(1, *)
        if e.dtype == .f32, Int(bitPattern: raw) % MemoryLayout<Float>.alignment == 0 {
            return raw.assumingMemoryBound(to: Float.self)
        }
        let buffer = FloatBuffer(count: count)
        let out = buffer.pointer
        switch e.dtype {
        case .f32:
            for i in 0 ..< count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0 ..< count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        case .bf16:
            for i in 0 ..< count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        }
        storage.append(buffer)
        return UnsafePointer(out)
    }
}

/// A fixed-size float32 allocation with one owner; freed in `deinit`. Holds converted weights
/// and derived (packed) weights of a model.
final class FloatBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }
}
