import XCTest
@testable import TokenReelModel

/// `VideoModel.withTokenKeeping`: SuperViT token keeping against the Flax reference
/// (`tokenreel_ref.keep`, fixtures keep_*; rates and layers as in make_fixtures.py KEEP).
final class TokenKeepingTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    static let keepFixtures: [(name: String, rate: Double, layers: [Int])] = [
        ("keep_vivit_gap", 0.5, [1]),
        ("keep_vivit_token", 0.7, [1, 2]),
        ("keep_tl11_gap", 0.6, [0, 2]),     // per slice before the TokenLearner, across learned tokens after
        ("keep_tl11_fuse", 0.5, [0, 1]),    // per slice before TokenLearner + TokenFuser
        ("keep_tl10_gap", 0.7, [1, 2]),     // across learned tokens after TokenLearner v1.0
    ]

    func testKeepingMatchesFlax() throws {
        for (name, rate, layers) in Self.keepFixtures {
            let plain = try Fixtures.model(name)
            let model = try plain.withTokenKeeping(rate: rate, layers: layers)
            let clips = try Fixtures.clips(name)
            let want = try Fixtures.logits(name)
            assertClose(model.logits(clips, workspace: model.makeWorkspace()), want, "\(name) r=\(rate) at \(layers)")
            // The fixture is not the plain model's output (the keeping did something).
            XCTAssertGreaterThan(relativeError(plain.logits(clips, workspace: plain.makeWorkspace()).data, want.data), 1e-3, name)
        }
    }

    /// The attention sums that rank tokens come out the same from the OpenBLAS attention path.
    func testKeepingThroughOpenBLASAttentionMatchesFlax() throws {
        let limit = VideoModel.fusedAttentionLimit
        VideoModel.fusedAttentionLimit = 0
        defer { VideoModel.fusedAttentionLimit = limit }
        for (name, rate, layers) in Self.keepFixtures {
            let model = try Fixtures.model(name).withTokenKeeping(rate: rate, layers: layers)
            assertClose(model.logits(try Fixtures.clips(name), workspace: model.makeWorkspace()), try Fixtures.logits(name), "\(name) r=\(rate), OpenBLAS attention")
        }
    }

    func testKeepingThreadedAndEmbedClassify() throws {
        BLAS.setThreads(2)
        defer { BLAS.setThreads(1) }
        for (name, rate, layers) in Self.keepFixtures {
            let model = try Fixtures.model(name).withTokenKeeping(rate: rate, layers: layers)
            let px = try Fixtures.pixels(name)
            let ws = model.makeWorkspace()
            let clip = px.shape.dropFirst().reduce(1, *)
            let tokens = (0 ..< px.shape[0]).map { i in
                model.embed(pixels: Array(px.data[i * clip ..< (i + 1) * clip]), normalization: model.defaultNormalization, workspace: ws)
            }
            assertClose(model.classify(tokens, workspace: ws), try Fixtures.logits(name), "\(name) embed + classify batch 2, 2 threads")
        }
    }

    func testRateOneIsTheUnmodifiedModel() throws {
        // Layers each model can keep at (TokenFuser from layer 1: only 0; v1.0 at 1: 1 and 2).
        let cases = [("vivit_gap", [0, 2]), ("vivit_token", [0, 2]), ("tl11_gap", [0, 1, 2]), ("tl11_fuse", [0]), ("tl10_gap", [1, 2])]
        for (name, layers) in cases {
            let model = try Fixtures.model(name)
            let clips = try Fixtures.clips(name)
            let plain = model.logits(clips, workspace: model.makeWorkspace())
            let one = try model.withTokenKeeping(rate: 1.0, layers: layers)
            XCTAssertNil(one.tokenKeeping)
            XCTAssertEqual(one.logits(clips, workspace: one.makeWorkspace()).data, plain.data, name)
            XCTAssertEqual(one.flopsPerClip, model.flopsPerClip)
            // 0.99 of 64 (65 with cls) tokens, of 16 positions per slice and of 16 learned tokens
            // rounds up to all of them: the keeping code runs, ranks and compacts, drops nothing.
            let all = try model.withTokenKeeping(rate: 0.99, layers: layers)
            XCTAssertEqual(all.flopsPerClip, model.flopsPerClip, name)
            XCTAssertNotNil(all.tokenKeeping)
            assertClose(all.logits(clips, workspace: all.makeWorkspace()), plain, tolerance: 1e-5, "\(name) r=0.99")
        }
    }

    func testKeptCounts() {
        XCTAssertEqual(TokenKeeping.keptTokens(rate: 0.5, of: 64, cls: false), 32)
        XCTAssertEqual(TokenKeeping.keptTokens(rate: 0.7, of: 65, cls: true), 47)
        XCTAssertEqual(TokenKeeping.keptTokens(rate: 0.01, of: 64, cls: false), 1)
        XCTAssertEqual(TokenKeeping.keptTokens(rate: 1, of: 10, cls: true), 10)
        // SuperViT's cls counts (field notes): 197 -> 139 -> 99 -> 71 at 0.7, 197 -> 100 -> 51 -> 27 at 0.5.
        for (rate, want) in [(0.7, [139, 99, 71]), (0.5, [100, 51, 27])] {
            var n = 197, got = [Int]()
            for _ in 0 ..< 3 { n = TokenKeeping.keptTokens(rate: rate, of: n, cls: true); got.append(n) }
            XCTAssertEqual(got, want)
        }
    }

    func testFlopsDecreaseWithRate() throws {
        for (name, layers) in [("vivit_gap", [0, 1]), ("vivit_token", [0, 1]), ("keep_tl11_gap", [0, 2]), ("keep_tl11_fuse", [0, 1]), ("keep_tl10_gap", [1, 2])] {
            let model = try Fixtures.model(name)
            let flops = try [1.0, 0.9, 0.7, 0.5, 0.3, 0.1].map { try model.withTokenKeeping(rate: $0, layers: layers).flopsPerClip }
            XCTAssertEqual(flops[0], model.flopsPerClip)
            for i in 1 ..< flops.count { XCTAssertLessThan(flops[i], flops[i - 1], "\(name): \(flops)") }
            // By hand for gap, r = 0.5 at layer 1: 64 tokens through layers 0 and attention of 1,
            // 32 through the MLP of 1 and layer 2 (D = 16, M = 32).
            if name == "vivit_gap" {
                let c = model.config, d = 16, m = 32
                func attn(_ n: Int) -> Int { 2 * n * d * 4 * d + 4 * n * n * d }
                func mlp(_ n: Int) -> Int { 4 * n * d * m }
                let want = 2 * 64 * c.patchSize * d + attn(64) + mlp(64) + attn(64) + mlp(32) + attn(32) + mlp(32) + 2 * d * 5
                XCTAssertEqual(try model.withTokenKeeping(rate: 0.5, layers: [1]).flopsPerClip, want)
            }
        }
    }

    /// Per-slice counts by hand: TokenLearner v1.1 at layer 2 (T' = 4 slices of P = 16, S = 4,
    /// bottleneck 16), r = 0.6 at layers 0 and 2: layer 0 attends over 64 tokens and keeps 10 per
    /// slice (40), layer 1 runs on 40, TokenLearner pools 10 positions per slice into 16 tokens,
    /// layer 2 attends over 16 and keeps 10 for its MLP.
    func testTokenLearnerFlopsCountThePerSliceCut() throws {
        let model = try Fixtures.model("keep_tl11_gap")
        let keeping = try model.withTokenKeeping(rate: 0.6, layers: [0, 2])
        let c = model.config, d = 16, m = 32, g = 4, s = 4, bn = 16
        func attn(_ n: Int) -> Int { 2 * n * d * 4 * d + 4 * n * n * d }
        func mlp(_ n: Int) -> Int { 4 * n * d * m }
        func learner(_ pp: Int) -> Int { 2 * g * pp * (d * bn + bn * s) + 2 * g * s * pp * d }
        let embedAndHead = 2 * 64 * c.patchSize * d + 2 * d * 5
        XCTAssertEqual(keeping.flopsPerClip, embedAndHead + attn(64) + mlp(40) + attn(40) + mlp(40) + learner(10) + attn(16) + mlp(10))
        XCTAssertEqual(model.flopsPerClip, embedAndHead + 2 * (attn(64) + mlp(64)) + learner(16) + attn(16) + mlp(16))
        let cut = try XCTUnwrap(keeping.tokenKeeping)
        XCTAssertEqual(cut.cut(layer: 0, tokens: 64, config: c).groups, 4)
        XCTAssertEqual(cut.cut(layer: 0, tokens: 64, config: c).kept, 40)
        XCTAssertEqual(cut.cut(layer: 2, tokens: 16, config: c).groups, 1)
        XCTAssertEqual(cut.cut(layer: 2, tokens: 16, config: c).kept, 10)
        // 36 tokens = 4 slices of 9: ceil(0.3 x 9) = 3 per slice, 12 in all, where a cut across
        // the slices would keep ceil(0.3 x 36) = 11.
        let low = try XCTUnwrap(model.withTokenKeeping(rate: 0.3, layers: [0, 1]).tokenKeeping)
        XCTAssertEqual(low.cut(layer: 1, tokens: 36, config: c).kept, 12)
        XCTAssertEqual(TokenKeeping.keptTokens(rate: 0.3, of: 36, cls: false), 11)
    }

    func testBadOptionsAreRejected() throws {
        let model = try Fixtures.model("vivit_gap")   // 3 layers
        for rate in [0.0, -0.5, 1.5, .nan] {
            XCTAssertThrowsError(try model.withTokenKeeping(rate: rate, layers: [1])) { error in
                XCTAssertEqual((error as? ModelError)?.kind, .config)
                XCTAssertTrue("\(error)".contains("rate"), "\(error)")
            }
        }
        XCTAssertThrowsError(try model.withTokenKeeping(rate: 0.5, layers: [3])) { XCTAssertTrue("\($0)".contains("out of range"), "\($0)") }
        XCTAssertThrowsError(try model.withTokenKeeping(rate: 0.5, layers: [-1])) { XCTAssertTrue("\($0)".contains("out of range"), "\($0)") }
        XCTAssertThrowsError(try model.withTokenKeeping(rate: 0.5, layers: [])) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
        XCTAssertThrowsError(try model.withTokenKeeping(rate: 0.5, layers: [1, 1])) { XCTAssertTrue("\($0)".contains("repeat"), "\($0)") }
        // TokenFuser from layer 1: its blocks cannot drop learned tokens.
        XCTAssertThrowsError(try Fixtures.model("tl11_fuse").withTokenKeeping(rate: 0.5, layers: [0, 1, 2])) {
            XCTAssertEqual((($0 as? ModelError)?.problems ?? []).count, 1, "\($0)")
            XCTAssertTrue("\($0)".contains("layers [1, 2] are at or after tokenlearner.loc 1"), "\($0)")
            XCTAssertTrue("\($0)".contains("TokenFuser"), "\($0)")
        }
        // TokenFuser from layer 0: no layer can keep. Without TokenFuser, layer 0 keeps learned tokens.
        var fuse0 = try Fixtures.model("tl11_fuse").config
        fuse0.tokenlearner?.loc = 0
        XCTAssertEqual(TokenKeeping.problems(rate: 0.5, layers: [2], config: fuse0).count, 1)
        XCTAssertTrue(TokenKeeping.problems(rate: 0.5, layers: [2], config: fuse0)[0].contains("no layer to keep at"))
        XCTAssertNoThrow(try Fixtures.model("tl11_first_gsp").withTokenKeeping(rate: 0.5, layers: [0]))
        // TokenLearner v1.0 at layer 1: its convolutions need the full grid.
        XCTAssertThrowsError(try Fixtures.model("tl10_gap").withTokenKeeping(rate: 0.5, layers: [0, 2])) {
            XCTAssertTrue("\($0)".contains("layers [0] come before tokenlearner.loc 1"), "\($0)")
            XCTAssertTrue("\($0)".contains("v1.0"), "\($0)")
        }
    }

    func testResizeKeepsTheKeeping() throws {
        let model = try Fixtures.model("vivit_token").withTokenKeeping(rate: 0.5, layers: [1])
        let resized = try model.resized(frames: 8, height: 16, width: 16)
        XCTAssertEqual(resized.tokenKeeping, model.tokenKeeping)
        let clips = try Fixtures.clips("vivit_token")
        XCTAssertEqual(resized.logits(clips, workspace: resized.makeWorkspace()).data, model.logits(clips, workspace: model.makeWorkspace()).data)
    }
}
