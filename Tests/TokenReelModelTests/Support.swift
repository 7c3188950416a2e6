import Foundation
import XCTest
@testable import TokenReelModel

/// Fixture files written by training/make_fixtures.py (the Flax reference).
enum Fixtures {
    static let names = ["tl11_gap", "tl11_fuse", "tl10_gap", "tl11_first_gsp", "tl11_last_gmp",
                        "vivit_gap", "vivit_token", "tl11_prelogits", "nonsquare_fuse"]

    static func url(_ file: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/" + file, withExtension: nil)
            ?? Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(file)
    }

    static func model(_ name: String) throws -> VideoModel { try VideoModel.load(contentsOf: url(name + ".safetensors")) }

    static func pixels(_ name: String) throws -> (shape: [Int], data: [UInt8]) {
        guard case let .uint8(shape, data) = try Npy.read(url(name + ".pixels.npy")) else { throw XCTSkip("pixels not uint8") }
        return (shape, data)
    }

    static func logits(_ file: String) throws -> Tensor { try Npy.readFloat32(url(file + ".logits.npy")) }

    /// The pixels normalised as the Flax reference did (`zero_centered`).
    static func clips(_ name: String) throws -> Tensor {
        let p = try pixels(name)
        return Tensor(shape: p.shape, data: p.data.map { Float($0) / 255 * 2 - 1 })
    }
}

/// Relative error max|got - want| / max|want| (the documented tolerance is 1e-4).
func relativeError(_ got: [Float], _ want: [Float]) -> Float {
    var diff: Float = 0, scale: Float = 0
    for (g, w) in zip(got, want) { diff = max(diff, abs(g - w)); scale = max(scale, abs(w)) }
    return diff / max(scale, 1e-12)
}

/// Asserts `got` equals `want` to `tolerance` relative error; on failure lists the first mismatches.
func assertClose(_ got: Tensor, _ want: Tensor, tolerance: Float = 1e-4, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.shape, want.shape, "\(what): shape", file: file, line: line)
    let err = relativeError(got.data, want.data)
    if err > tolerance {
        let scale = want.data.map(abs).max() ?? 1
        let bad = zip(got.data, want.data).enumerated().filter { abs($0.element.0 - $0.element.1) > tolerance * scale }.prefix(5)
        let lines = bad.map { "  [\($0.offset)] got \($0.element.0) want \($0.element.1)" }.joined(separator: "\n")
        XCTFail("\(what): relative error \(err) > \(tolerance); first mismatches:\n\(lines)", file: file, line: line)
    }
}

/// Rewrites a safetensors file with an edited header (the data section is kept byte for byte).
func rewriteHeader(of source: URL, to dest: URL, _ edit: (inout [String: Any]) -> Void) throws {
    let bytes = try Data(contentsOf: source)
    let n = Int(bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    var header = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8 ..< 8 + n)) as! [String: Any]
    edit(&header)
    var json = try JSONSerialization.data(withJSONObject: header)
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(bytes.subdata(in: 8 + n ..< bytes.count))
    try out.write(to: dest)
}

func temporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("tokenreel-model-tests-\(getpid())-\(name)")
}

/// Runs `body` once with each kernel build this machine has (the baseline, and AVX2 + FMA and
/// AVX-512 where supported), naming the build in failures; the best build again afterwards.
func forEachKernelBuild(_ body: (String) throws -> Void, file: StaticString = #filePath, line: UInt = #line) rethrows {
    let best = Kernels.useBest()
    defer { Kernels.useBest() }
    for isa in ["generic", "avx2+fma", "avx512"] where Kernels.use(isa) {
        XCTAssertEqual(Kernels.isa, isa, file: file, line: line)
        try body(isa)
    }
    XCTAssertTrue(Kernels.use(best), "the default build is one this machine runs: \(best)", file: file, line: line)
    XCTAssertFalse(Kernels.use("avx1024"), file: file, line: line)
}
