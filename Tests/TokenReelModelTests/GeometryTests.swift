import XCTest
@testable import TokenReelModel

/// `VideoModel.resized`: one model run at another clip geometry, against the Flax reference
/// (`tokenreel_ref.posemb.resize_posemb`, fixtures geom_*).
final class GeometryTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    static let geometryFixtures = ["geom_tl11_gap", "geom_vivit_token"]

    func testResizedModelMatchesFlax() throws {
        for name in Self.geometryFixtures {
            let trained = try Fixtures.model(name)
            let clips = try Fixtures.clips(name)
            let (t, h, w) = (clips.shape[1], clips.shape[2], clips.shape[3])
            XCTAssertNotEqual([t, h, w], [trained.inputFrames, trained.inputHeight, trained.inputWidth], name)
            let model = try trained.resized(frames: t, height: h, width: w)
            XCTAssertEqual([model.inputFrames, model.inputHeight, model.inputWidth], [t, h, w])
            assertClose(model.logits(clips, workspace: model.makeWorkspace()), try Fixtures.logits(name), "\(name) at \(t)x\(h)x\(w)")
        }
    }

    func testResizedModelThreadedAndEmbedClassify() throws {
        BLAS.setThreads(2)
        defer { BLAS.setThreads(1) }
        let name = "geom_vivit_token"
        let px = try Fixtures.pixels(name)
        let model = try Fixtures.model(name).resized(frames: px.shape[1], height: px.shape[2], width: px.shape[3])
        let ws = model.makeWorkspace()
        let tokens = model.embed(pixels: px.data, normalization: model.defaultNormalization, workspace: ws)
        XCTAssertEqual(tokens.shape, [1 + 3 * 3 * 5, model.config.hiddenSize])
        assertClose(model.classify([tokens], workspace: ws), try Fixtures.logits(name), "\(name) embed + classify, 2 threads")
    }

    func testTrainedGeometryIsTheSameModel() throws {
        for name in ["tl11_gap", "vivit_token", "nonsquare_fuse"] {
            let model = try Fixtures.model(name)
            let same = try model.resized(frames: model.inputFrames, height: model.inputHeight, width: model.inputWidth)
            let clips = try Fixtures.clips(name)
            XCTAssertEqual(same.logits(clips, workspace: same.makeWorkspace()).data, model.logits(clips, workspace: model.makeWorkspace()).data, name)
        }
    }

    func testResizingIsFromTheFileNotCompounded() throws {
        let model = try Fixtures.model("geom_tl11_gap")
        let clips = try Fixtures.clips("geom_tl11_gap")
        let direct = try model.resized(frames: 12, height: 48, width: 40)
        let twice = try model.resized(frames: 6, height: 16, width: 24).resized(frames: 12, height: 48, width: 40)
        XCTAssertEqual(twice.trainedConfig, model.config)
        XCTAssertEqual(twice.logits(clips, workspace: twice.makeWorkspace()).data, direct.logits(clips, workspace: direct.makeWorkspace()).data)
        // The original instance is unchanged and still runs at its own geometry.
        XCTAssertEqual([model.inputFrames, model.inputHeight, model.inputWidth], [8, 32, 32])
        XCTAssertThrowsError(try model.checkInput(shape: clips.shape, source: "clips"))
    }

    /// A clip so small that a temporal slice has fewer positions than TokenLearner learns tokens
    /// (here 1 position, S = 8 learned tokens): the layers after TokenLearner hold more tokens than
    /// the input, and the scratch buffers must be sized for them. Batched = one by one, all finite.
    func testSmallClipWithMoreLearnedTokensThanPositions() throws {
        let model = try Fixtures.model("geom_tl11_gap").resized(frames: 4, height: 8, width: 8)
        XCTAssertLessThan(model.config.positionsPerSlice, model.config.tokenlearner!.numTokens)
        let per = 4 * 8 * 8 * 3
        let clips = Tensor(shape: [3, 4, 8, 8, 3], data: (0..<(3 * per)).map { Float(($0 * 37) % 101) / 50 - 1 })
        let batched = model.logits(clips, workspace: model.makeWorkspace())
        XCTAssertTrue(batched.data.allSatisfy(\.isFinite))
        for i in 0..<3 {
            let one = Tensor(shape: [1, 4, 8, 8, 3], data: Array(clips.data[(i * per)..<((i + 1) * per)]))
            assertClose(model.logits(one, workspace: model.makeWorkspace()),
                        Tensor(shape: [1, batched.shape[1]], data: Array(batched.data[(i * batched.shape[1])..<((i + 1) * batched.shape[1])])),
                        "clip \(i)")
        }
    }

    func testLinearTapsHalfPixelCentres() {
        // 2 -> 4: x = -0.25, 0.25, 0.75, 1.25 clamped to [0, 1].
        let up = VideoModel.linearTaps(from: 2, to: 4)
        XCTAssertEqual(up.map(\.0), [0, 0, 0, 1])
        XCTAssertEqual(up.map(\.2), [0, 0.25, 0.75, 0])
        // 4 -> 2 (no antialias): x = 0.5, 2.5.
        let down = VideoModel.linearTaps(from: 4, to: 2)
        XCTAssertEqual(down.map(\.0), [0, 2])
        XCTAssertEqual(down.map(\.1), [1, 3])
        XCTAssertEqual(down.map(\.2), [0.5, 0.5])
    }

    func testResampleGridBilinearByHand() {
        // [1, 2, 2, 1] -> [1, 3, 3, 1]: x = -1/6, 1/2, 7/6 -> 0, 0.5, 1 on both spatial axes.
        let src: [Float] = [1, 2, 3, 4]
        var out = [Float](repeating: 0, count: 9)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { VideoModel.resampleGrid(s.baseAddress!, from: [1, 2, 2], to: [1, 3, 3], width: 1, into: $0.baseAddress!) }
        }
        XCTAssertEqual(out, [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4])
    }

    func testGeometriesThatDoNotFitAreRejected() throws {
        let model = try Fixtures.model("geom_tl11_gap")   // tubelet 2x8x8
        XCTAssertThrowsError(try model.resized(frames: 1, height: 32, width: 32)) { error in
            let e = error as? ModelError
            XCTAssertEqual(e?.kind, .config)
            XCTAssertTrue(e?.description.contains("tubelet") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try model.resized(frames: 8, height: 0, width: 32))
        let v10 = try Fixtures.model("tl10_gap")            // 16x16, tubelet 2x4x4: grid 4x4
        XCTAssertNoThrow(try v10.resized(frames: 6, height: 24, width: 24))
        XCTAssertThrowsError(try v10.resized(frames: 8, height: 16, width: 24)) { error in
            XCTAssertTrue("\(error)".contains("square"), "\(error)")
        }
    }
}
