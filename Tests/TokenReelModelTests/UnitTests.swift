import XCTest
@testable import TokenReelModel

/// Kernels against scalar definitions, and the small file formats.
final class UnitTests: XCTestCase {
    func testVectorExpAgainstFoundation() {
        var worst: Float = 0
        for i in stride(from: -87.0 as Float, through: 88, by: 0.37) {
            let v = Kernels.exp8(F8(repeating: i))[0]
            worst = max(worst, abs(v - Foundation.exp(i)) / Foundation.exp(i))
        }
        XCTAssertLessThan(worst, 5e-7)
        XCTAssertEqual(Kernels.exp8(F8(repeating: -1000))[0], 0, accuracy: 1e-37)
    }

    func testGELUAndSigmoidAgainstDefinitions() {
        for x in stride(from: -8.0 as Float, through: 8, by: 0.25) {
            let gelu = 0.5 * x * (1 + Foundation.tanh(0.797_884_56 * (x + 0.044_715 * x * x * x)))
            XCTAssertEqual(Kernels.gelu8(F8(repeating: x))[3], gelu, accuracy: 1e-6 * max(1, abs(x)))
            XCTAssertEqual(Kernels.sigmoid8(F8(repeating: x))[5], 1 / (1 + Foundation.exp(-x)), accuracy: 1e-6)
        }
    }

    func testLayerNormAndSoftmax() {
        var x: [Float] = (0 ..< 21).map { Float($0) * 0.5 - 3 }
        let scale = [Float](repeating: 2, count: 21), bias = [Float](repeating: 1, count: 21)
        var y = [Float](repeating: 0, count: 21)
        Kernels.layerNorm(x, &y, rows: 1, cols: 21, scale: scale, bias: bias, eps: 1e-6)
        let mean = x.reduce(0, +) / 21, sd = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 21 + 1e-6).squareRoot()
        for i in 0 ..< 21 { XCTAssertEqual(y[i], (x[i] - mean) / sd * 2 + 1, accuracy: 1e-5) }
        Kernels.softmaxRows(&x, rows: 1, cols: 21, ld: 21)
        XCTAssertEqual(x.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(x[20] / x[19], Foundation.exp(0.5), accuracy: 1e-5)
    }

    func testSHA256KnownVectors() {
        func h(_ s: String) -> String { Array(s.utf8).withUnsafeBytes { SHA256.hex($0) } }
        XCTAssertEqual(h(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(h("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(h(String(repeating: "a", count: 1000)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        XCTAssertEqual(SHA256.hex(Data(repeating: 0x61, count: 1_000_000)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testNpyRoundTrip() throws {
        let t = Tensor(shape: [2, 3, 1], data: [1, -2, 3.5, 0, 1e-7, 6])
        let url = temporaryURL("t.npy")
        defer { try? FileManager.default.removeItem(at: url) }
        try Npy.write(t, to: url)
        XCTAssertEqual(try Npy.readFloat32(url), t)
        let px = try Fixtures.pixels("tl11_gap")
        XCTAssertEqual(px.shape, [2, 8, 16, 16, 3])
        XCTAssertThrowsError(try Npy.readFloat32(Fixtures.url("tl11_gap.pixels.npy")))
    }

    func testFlopsCountTokenLearnerSaving() {
        let b0 = ModelConfig(numFrames: 32, height: 224, width: 224, tubelet: [2, 16, 16], hiddenSize: 768, numLayers: 12, numHeads: 12, mlpDim: 3072, numClasses: 400)
        var b = b0
        b.tokenlearner = .init(numTokens: 8, loc: 4)
        XCTAssertEqual(Double(b0.flopsPerClip) / Double(b.flopsPerClip), 2.8, accuracy: 0.1)
        var tok = b0
        tok.classifier = .token
        XCTAssertEqual(tok.parameterCount, 88_954_000)
        b.tokenlearner = .init(numTokens: 8, loc: 6)
        XCTAssertEqual(b.parameterCount, 89_003_736)
        b.tokenlearner?.useTokenfuse = true
        XCTAssertEqual(b.parameterCount, 89_586_592)
    }
}
