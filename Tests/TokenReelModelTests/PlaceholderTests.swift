import Foundation
import XCTest
@testable import TokenReelModel

/// models/placeholder-random.safetensors, the model the pipeline ships until a trained one exists.
final class PlaceholderTests: XCTestCase {
    func testPlaceholderIsTheMotion10ShapedModelAndItsAnswersVary() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../models/placeholder-random.safetensors").standardized
        let model = try VideoModel.load(contentsOf: url)
        XCTAssertEqual(model.labels, ["static", "left", "right", "up", "down", "zoom_in", "zoom_out", "rotate_cw", "rotate_ccw", "blink"])
        let c = model.config
        XCTAssertEqual([c.numFrames, c.height, c.width, c.hiddenSize, c.numLayers, c.numHeads, c.mlpDim], [16, 64, 64, 96, 6, 3, 384])
        XCTAssertEqual(c.tubelet, [2, 8, 8])
        XCTAssertEqual(c.tokenlearner, .init(version: "1.1", numTokens: 8, loc: 2))
        XCTAssertEqual(c.classifier, .gap)
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int, 2_000_000)

        let ws = model.makeWorkspace(), n = 16 * 64 * 64 * 3
        let dark = model.embed(pixels: [UInt8](repeating: 20, count: n), normalization: model.defaultNormalization, workspace: ws)
        let noise = model.embed(pixels: (0 ..< n).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }, normalization: model.defaultNormalization, workspace: ws)
        let logits = model.classify([dark, noise], workspace: ws)
        XCTAssertEqual(logits.shape, [2, 10])
        XCTAssertTrue(logits.data.allSatisfy(\.isFinite))
        XCTAssertGreaterThan(relativeError(Array(logits.data[0 ..< 10]), Array(logits.data[10 ..< 20])), 1e-3, "different clips, different answers")
        XCTAssertGreaterThan(Set(logits.data[0 ..< 10]).count, 1, "the head is not all zero")
    }
}
