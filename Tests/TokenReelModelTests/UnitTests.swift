import XCTest
@testable import TokenReelModel
import CKernels

/// Kernels against scalar definitions, and the small file formats.
final class UnitTests: XCTestCase {
    private func applied(_ xs: [Float], _ f: (UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        var v = xs
        v.withUnsafeMutableBufferPointer { f($0.baseAddress!, $0.count) }
        return v
    }

    func testVectorExpAgainstFoundation() {
        let xs = Array(stride(from: -87.0 as Float, through: 88, by: 0.37)) + [-1000, 1000]
        forEachKernelBuild { isa in
            let e = applied(xs, Kernels.exp)
            var worst: Float = 0
            for (x, v) in zip(xs, e) where abs(x) < 100 { worst = max(worst, abs(v - Foundation.exp(x)) / Foundation.exp(x)) }
            XCTAssertLessThan(worst, 5e-7, isa)
            XCTAssertEqual(e[e.count - 2], 0, accuracy: 1e-37, isa)
            XCTAssertTrue(e[e.count - 1].isFinite && e[e.count - 1] > 1e38, isa)
        }
    }

    func testGELUSigmoidTanhAgainstDefinitions() {
        let xs = Array(stride(from: -12.0 as Float, through: 12, by: 0.05))   // 481 values: vectors and a tail
        forEachKernelBuild { isa in
            let gelu = applied(xs, Kernels.gelu), sigmoid = applied(xs, Kernels.sigmoid), tanh = applied(xs, Kernels.tanh)
            for (i, x) in xs.enumerated() {
                let d = Double(x)
                let g = 0.5 * d * (1 + Foundation.tanh(0.797_884_560_802_865_4 * (d + 0.044_715 * d * d * d)))
                XCTAssertEqual(Double(gelu[i]), g, accuracy: 1e-6 * max(1, abs(d)), "\(isa) gelu(\(x))")
                XCTAssertEqual(Double(sigmoid[i]), 1 / (1 + Foundation.exp(-d)), accuracy: 1e-6, "\(isa) sigmoid(\(x))")
                XCTAssertEqual(Double(tanh[i]), Foundation.tanh(d), accuracy: 1e-6, "\(isa) tanh(\(x))")
            }
        }
    }

    func testLayerNormAndSoftmax() {
        forEachKernelBuild { isa in
            var x: [Float] = (0 ..< 21).map { Float($0) * 0.5 - 3 }
            let scale = [Float](repeating: 2, count: 21), bias = [Float](repeating: 1, count: 21)
            var y = [Float](repeating: 0, count: 21)
            Kernels.layerNorm(x, &y, rows: 1, cols: 21, scale: scale, bias: bias, eps: 1e-6)
            let mean = x.reduce(0, +) / 21, sd = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 21 + 1e-6).squareRoot()
            for i in 0 ..< 21 { XCTAssertEqual(y[i], (x[i] - mean) / sd * 2 + 1, accuracy: 1e-5, isa) }
            Kernels.softmaxRows(&x, rows: 1, cols: 21, ld: 21)
            XCTAssertEqual(x.reduce(0, +), 1, accuracy: 1e-6, isa)
            XCTAssertEqual(x[20] / x[19], Foundation.exp(0.5), accuracy: 1e-5, isa)
        }
    }

    /// The two builds give the same rows (to rounding: FMA contracts some products) on random
    /// matrices whose widths leave tails, and the row kernels respect their leading dimension.
    func testKernelBuildsAgree() {
        var state: UInt64 = 7
        func random() -> Float { state = state &* 6_364_136_223_846_793_005 &+ 1; return Float(Int64(bitPattern: state >> 11) % 2000) / 250 - 4 }
        let rows = 5, cols = 37, ld = 45
        let x = (0 ..< rows * ld).map { _ in random() }
        let bias = (0 ..< cols).map { _ in random() }, scale = (0 ..< cols).map { _ in random() }
        func run() -> [[Float]] {
            var softmax = x, gelu = Array(x.prefix(rows * cols)), plain = gelu, added = gelu, norm = [Float](repeating: 0, count: rows * cols)
            Kernels.softmaxRows(&softmax, rows: rows, cols: cols, ld: ld)
            Kernels.addBiasGELU(&gelu, rows: rows, cols: cols, bias)
            Kernels.addBiasGELU(&plain, rows: rows, cols: cols, nil)
            Kernels.addBias(&added, rows: rows, cols: cols, bias)
            Kernels.layerNorm(x, &norm, rows: rows, cols: cols, scale: scale, bias: bias, eps: 1e-6)
            var filled = [Float](repeating: 0, count: rows * cols)
            Kernels.fillRows(&filled, rows: rows, cols: cols, bias)
            return [softmax, gelu, plain, added, norm, filled]
        }
        XCTAssertTrue(Kernels.use("generic"))
        let generic = run()
        for isa in ["avx2+fma", "avx512"] where Kernels.use(isa) {
            let other = run()
            for (name, (a, b)) in zip(["softmax", "gelu+bias", "gelu", "bias", "layernorm", "fill"], zip(generic, other)) {
                for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 1e-5 * max(1, abs(a[i])), "\(isa) \(name)[\(i)]") }
            }
        }
        Kernels.useBest()
        let (softmax, gelu, plain, added, _, filled) = (generic[0], generic[1], generic[2], generic[3], generic[4], generic[5])
        for r in 0 ..< rows {
            XCTAssertEqual(softmax[r * ld ..< r * ld + cols].reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(Array(softmax[r * ld + cols ..< (r + 1) * ld]), Array(x[r * ld + cols ..< (r + 1) * ld]), "softmax wrote past its row")
            for c in 0 ..< cols {
                let v = x[r * cols + c], i = r * cols + c
                XCTAssertEqual(added[i], v + bias[c])
                XCTAssertEqual(filled[i], bias[c])
                XCTAssertEqual(gelu[i], applied([v + bias[c]], Kernels.gelu)[0], accuracy: 1e-6 * max(1, abs(gelu[i])))
                XCTAssertEqual(plain[i], applied([v], Kernels.gelu)[0], accuracy: 1e-6 * max(1, abs(plain[i])))
            }
        }
    }

    /// The fused attention head against a naive softmax(Q K^T) V in Double, on every kernel
    /// build, at sizes that leave partial row blocks (m % 6, m % 12), key tiles (n % 16, n % 32)
    /// and column tiles (dh % 8, dh % 16, dh % 32), with q|k|v interleaved in one matrix and a strided output; float32
    /// against double, so to 1e-5.
    func testAttentionHeadMatchesNaive() {
        var state: UInt64 = 3
        func random() -> Float { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return Float(Int64(bitPattern: state >> 11) % 4000) / 1000 - 2 }
        forEachKernelBuild { isa in
            for (m, n, dh) in [(1, 1, 8), (5, 17, 12), (7, 40, 20), (13, 33, 32), (6, 64, 64), (19, 50, 4)] {
                let ld = 3 * dh + 5, ldo = dh + 3
                // Queries scaled by 1/sqrt(dh), as the model's weights do: scores of a realistic size.
                let qkv = (0 ..< max(m, n) * ld).map { i in random() / (i % ld < dh ? Float(dh).squareRoot() : 1) }
                var out = [Float](repeating: .nan, count: m * ldo)
                var scratch = [Float](repeating: .nan, count: Kernels.attentionScratch(keys: n, headDim: dh))
                var received = [Float](repeating: 0.25, count: n)
                let counted = min(m, 4)
                Kernels.attentionHead(q: qkv, k: Array(qkv.dropFirst(dh)), v: Array(qkv.dropFirst(2 * dh)), ld: ld, queries: m, keys: n,
                                      headDim: dh, out: &out, ldo: ldo, scratch: &scratch, received: &received, receivedRows: counted)
                var expectReceived = [Double](repeating: 0.25, count: n)
                for i in 0 ..< m {
                    let s = (0 ..< n).map { j in (0 ..< dh).reduce(0.0) { $0 + Double(qkv[i * ld + $1]) * Double(qkv[j * ld + dh + $1]) } }
                    let mx = s.max()!, e = s.map { Foundation.exp($0 - mx) }, total = e.reduce(0, +)
                    let prob = e.map { $0 / total }
                    if i < counted { for j in 0 ..< n { expectReceived[j] += prob[j] } }
                    for c in 0 ..< dh {
                        let want = (0 ..< n).reduce(0.0) { $0 + prob[$1] * Double(qkv[$1 * ld + 2 * dh + c]) }
                        XCTAssertEqual(Double(out[i * ldo + c]), want, accuracy: 1e-5, "\(isa) m\(m) n\(n) dh\(dh) out[\(i), \(c)]")
                    }
                    for c in dh ..< ldo { XCTAssertTrue(out[i * ldo + c].isNaN, "\(isa): wrote past the head's columns") }
                }
                for j in 0 ..< n { XCTAssertEqual(Double(received[j]), expectReceived[j], accuracy: 1e-5, "\(isa) received[\(j)]") }
            }
        }
    }

    /// The packed product against a naive one in Double, on every kernel build, for each output
    /// (set, GELU, residual), with and without a bias, at sizes that leave partial row blocks
    /// (m % 6, m % 12), partial column tiles (n % 16, n % 32, n < 16), more than one K chunk
    /// (k > 512, k > 1024) and column band (n > 256), and k = 0 (the bias alone), with strided A
    /// and C; nothing written past the n columns of C.
    func testPackedProductMatchesNaive() {
        var state: UInt64 = 11
        func random() -> Float { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return Float(Int64(bitPattern: state >> 11) % 4000) / 2000 - 1 }
        let shapes = [(1, 1, 1), (5, 7, 3), (12, 32, 16), (13, 33, 40), (25, 300, 70), (7, 17, 1100), (30, 48, 513), (3, 5, 0)]
        forEachKernelBuild { isa in
            for (m, n, k) in shapes {
                let lda = k + 3, ldo = n + 5
                let a = (0 ..< m * lda).map { _ in random() }, w = (0 ..< k * n).map { _ in random() }, bias = (0 ..< n).map { _ in random() }
                let packed = [Float](unsafeUninitializedCapacity: max(1, Int(trk_packed_size(k, n)))) { buf, count in
                    trk_pack_b(w, k, n, n, buf.baseAddress!)
                    count = buf.count
                }
                let start = (0 ..< m * ldo).map { _ in random() }
                let product = (0 ..< m * n).map { e in (0 ..< k).reduce(0.0) { $0 + Double(a[e / n * lda + $1]) * Double(w[$1 * n + e % n]) } }
                for output in [Kernels.ProductOutput.set, .gelu, .accumulate] {
                    for withBias in [true, false] {
                        var out = start
                        for i in 0 ..< m { for c in n ..< ldo { out[i * ldo + c] = .nan } }
                        bias.withUnsafeBufferPointer { b in
                            Kernels.gemmPacked(a, lda: lda, rows: m, k: k, packed, n: n, bias: withBias ? b.baseAddress : nil, &out, ldo: ldo, output)
                        }
                        for i in 0 ..< m {
                            for c in 0 ..< n {
                                var v = product[i * n + c] + (withBias ? Double(bias[c]) : 0)
                                switch output {
                                case .set: break
                                case .gelu: v = 0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
                                case .accumulate: v += Double(start[i * ldo + c])
                                }
                                XCTAssertEqual(Double(out[i * ldo + c]), v, accuracy: 1e-5 * max(1, Double(k).squareRoot()),
                                               "\(isa) \(output) bias \(withBias) m\(m) n\(n) k\(k) [\(i), \(c)]")
                            }
                            for c in n ..< ldo { XCTAssertTrue(out[i * ldo + c].isNaN, "\(isa): wrote past column \(n)") }
                        }
                    }
                }
            }
        }
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
