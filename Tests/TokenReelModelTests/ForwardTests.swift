import XCTest
@testable import TokenReelModel

/// The Swift forward pass against the Flax reference, for every variant of the fixtures.
final class ForwardTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    func testEveryVariantMatchesFlax() throws {
        for name in Fixtures.names {
            let model = try Fixtures.model(name)
            let got = model.logits(try Fixtures.clips(name), workspace: model.makeWorkspace())
            assertClose(got, try Fixtures.logits(name), name)
        }
    }

    /// Attention too long for the fused kernel goes through two products per block of queries,
    /// on OpenBLAS or on the packed kernels (K^T and V packed per head): every variant, forced
    /// that way, each product path, the packed one on every kernel build.
    func testBlockedAttentionPathsMatchFlax() throws {
        let limit = VideoModel.fusedAttentionLimit, saved = VideoModel.packedProducts
        VideoModel.fusedAttentionLimit = 0
        defer { VideoModel.fusedAttentionLimit = limit; VideoModel.packedProducts = saved }
        VideoModel.packedProducts = false
        for name in Fixtures.names {
            let model = try Fixtures.model(name)
            assertClose(model.logits(try Fixtures.clips(name), workspace: model.makeWorkspace()), try Fixtures.logits(name), "\(name), OpenBLAS attention")
        }
        VideoModel.packedProducts = true
        try forEachKernelBuild { isa in
            for name in Fixtures.names {
                let model = try Fixtures.model(name)
                assertClose(model.logits(try Fixtures.clips(name), workspace: model.makeWorkspace()), try Fixtures.logits(name), "\(name), packed attention products (\(isa))")
            }
        }
    }

    /// Weight products on each path, whatever this machine's default: OpenBLAS, and the packed
    /// kernels on every kernel build.
    func testWeightProductPathsMatchFlax() throws {
        let saved = VideoModel.packedProducts
        defer { VideoModel.packedProducts = saved }
        VideoModel.packedProducts = false
        for name in Fixtures.names {
            let model = try Fixtures.model(name)
            assertClose(model.logits(try Fixtures.clips(name), workspace: model.makeWorkspace()), try Fixtures.logits(name), "\(name), OpenBLAS products")
        }
        // Loaded while OpenBLAS is the path: no packed copy, and still OpenBLAS when the path changes.
        let unpacked = try Fixtures.model("tl11_fuse")
        XCTAssertNil(unpacked.params.blocks[0].fc1.packed)
        XCTAssertNil(unpacked.params.embedPacked)
        VideoModel.packedProducts = true
        assertClose(unpacked.logits(try Fixtures.clips("tl11_fuse"), workspace: unpacked.makeWorkspace()), try Fixtures.logits("tl11_fuse"), "tl11_fuse, loaded unpacked")
        try forEachKernelBuild { isa in
            for name in Fixtures.names {
                let model = try Fixtures.model(name)
                XCTAssertNotNil(model.params.blocks[0].fc1.packed)
                assertClose(model.logits(try Fixtures.clips(name), workspace: model.makeWorkspace()), try Fixtures.logits(name), "\(name), packed products (\(isa))")
            }
        }
    }

    func testBatchedEqualsOneByOne() throws {
        for name in Fixtures.names {
            let model = try Fixtures.model(name)
            let clips = try Fixtures.clips(name)
            let ws = model.makeWorkspace()
            let batched = model.logits(clips, workspace: ws)
            for i in 0 ..< clips.shape[0] {
                let single = model.logits(clips.slice(i), workspace: ws)
                assertClose(single, Tensor(shape: [1, model.config.numClasses], data: batched.slice(i).data), tolerance: 1e-5, "\(name) clip \(i)")
            }
        }
    }

    func testEmbedThenClassifyMatchesFlax() throws {
        for name in ["tl11_fuse", "vivit_token", "nonsquare_fuse"] {
            let model = try Fixtures.model(name)
            let px = try Fixtures.pixels(name)
            let ws = model.makeWorkspace(), clipSize = px.data.count / px.shape[0]
            let tokens = (0 ..< px.shape[0]).map { i in
                model.embed(pixels: Array(px.data[i * clipSize ..< (i + 1) * clipSize]), normalization: model.defaultNormalization, workspace: ws)
            }
            XCTAssertEqual(tokens[0].shape, [model.config.inputTokens, model.config.hiddenSize])
            assertClose(model.classify(tokens, workspace: model.makeWorkspace()), try Fixtures.logits(name), name)
        }
    }

    func testHalfPrecisionWeightsAreConverted() throws {
        let clips = try Fixtures.clips("tl11_gap")
        for tag in ["f16", "bf16"] {
            let model = try VideoModel.load(contentsOf: Fixtures.url("tl11_gap.\(tag).safetensors"))
            assertClose(model.logits(clips, workspace: model.makeWorkspace()), try Fixtures.logits("tl11_gap.\(tag)"), "tl11_gap \(tag)")
        }
    }

    func testWorkspaceIsReusedAcrossBatchSizes() throws {
        let model = try Fixtures.model("tl11_fuse")
        let clips = try Fixtures.clips("tl11_fuse"), ws = model.makeWorkspace()
        let first = model.logits(clips.slice(1), workspace: ws)
        _ = model.logits(Tensor.stack([clips.slice(0), clips.slice(1), clips.slice(0)]), workspace: ws)
        XCTAssertEqual(model.logits(clips.slice(1), workspace: ws), first)
    }

    /// Every step split over 3 threads (rows, query rows, slices) gives the same logits.
    func testThreadedForwardMatchesFlax() throws {
        BLAS.setThreads(3)
        defer { BLAS.setThreads(1) }
        XCTAssertEqual(BLAS.threads, 3)
        for name in Fixtures.names {
            let model = try Fixtures.model(name)
            assertClose(model.logits(try Fixtures.clips(name), workspace: model.makeWorkspace()), try Fixtures.logits(name), "\(name), 3 threads")
        }
    }
}
