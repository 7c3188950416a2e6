import XCTest
@testable import TokenReelModel

/// The safetensors loader's checks, each on a damaged copy of a fixture.
final class LoaderTests: XCTestCase {
    let source = Fixtures.url("tl11_gap.safetensors")

    private func loadError(_ url: URL, file: StaticString = #filePath, line: UInt = #line) -> ModelError? {
        do {
            _ = try VideoModel.load(contentsOf: url)
            XCTFail("loading \(url.lastPathComponent) should fail", file: file, line: line)
            return nil
        } catch let e as ModelError {
            XCTAssertTrue(e.description.hasPrefix(url.path), "error names the file: \(e)", file: file, line: line)
            return e
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    private func edited(_ name: String, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let url = temporaryURL(name + ".safetensors")
        try rewriteHeader(of: source, to: url, edit)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testFixtureLoadsWithConfigAndLabels() throws {
        let m = try VideoModel.load(contentsOf: source)
        XCTAssertEqual(m.config.tokenlearner?.numTokens, 4)
        XCTAssertEqual(m.labels, ["alpha", "beta", "gamma", "delta", "epsilon"])
        XCTAssertEqual(m.defaultNormalization, .zeroCentered)
        XCTAssertEqual(m.sha256, "7f6bd56523c5899aa358e1d711206362dc52eec07892417156654407b98b5bb2")   // sha256sum of the file
        XCTAssertEqual(m.config.parameterCount, m.config.expectedParameters.reduce(0) { $0 + $1.shape.reduce(1, *) })
    }

    func testTruncatedFile() throws {
        let bytes = try Data(contentsOf: source)
        let url = temporaryURL("truncated.safetensors")
        try bytes.prefix(bytes.count - 100).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let e = loadError(url)
        XCTAssertEqual(e?.kind, .header)
        XCTAssertTrue(e?.description.contains("outside the data section") ?? false, "\(String(describing: e))")
    }

    func testHeaderLengthPastEnd() throws {
        var bytes = try Data(contentsOf: source)
        bytes.replaceSubrange(0 ..< 8, with: withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { Data($0) })
        let url = temporaryURL("headerlen.safetensors")
        try bytes.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let e = loadError(url)
        XCTAssertEqual(e?.kind, .header)
        XCTAssertTrue(e?.description.contains("runs past the end") ?? false, "\(String(describing: e))")
    }

    func testTinyAndEmptyFiles() throws {
        for (name, data) in [("empty", Data()), ("tiny", Data([1, 2, 3]))] {
            let url = temporaryURL(name)
            try data.write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            XCTAssertEqual(loadError(url)?.kind, .header)
        }
    }

    func testMissingFile() {
        XCTAssertEqual(loadError(URL(fileURLWithPath: "/nonexistent/model.safetensors"))?.kind, .io)
    }

    func testOverlappingOffsets() throws {
        let url = try edited("overlap") { h in
            var a = h["Transformer/encoder_norm/scale"] as! [String: Any]
            let b = h["Transformer/encoder_norm/bias"] as! [String: Any]
            a["data_offsets"] = b["data_offsets"]
            h["Transformer/encoder_norm/scale"] = a
        }
        let e = loadError(url)
        XCTAssertEqual(e?.kind, .header)
        XCTAssertTrue(e?.description.contains("overlap") ?? false, "\(String(describing: e))")
    }

    func testWrongDType() throws {
        let url = try edited("dtype") { h in
            var a = h["output_projection/bias"] as! [String: Any]
            a["dtype"] = "I32"
            h["output_projection/bias"] = a
        }
        let e = loadError(url)
        XCTAssertTrue(e?.description.contains("output_projection/bias: dtype I32 is not supported") ?? false, "\(String(describing: e))")
    }

    func testMissingAndUnexpectedTensors() throws {
        let url = try edited("missing") { h in
            h["Transformer/encoderblock_1/MlpBlock_0/Dense_1/kernel_renamed"] = h.removeValue(forKey: "Transformer/encoderblock_1/MlpBlock_0/Dense_1/kernel")
        }
        let e = loadError(url)
        XCTAssertEqual(e?.kind, .tensors)
        XCTAssertEqual(e?.problems, ["missing tensor Transformer/encoderblock_1/MlpBlock_0/Dense_1/kernel [32, 16]",
                                     "unexpected tensor Transformer/encoderblock_1/MlpBlock_0/Dense_1/kernel_renamed [32, 16]"])
    }

    func testWrongShape() throws {
        let url = try edited("shape") { h in
            var a = h["Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel"] as! [String: Any]
            a["shape"] = [32, 16]
            h["Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel"] = a
        }
        XCTAssertEqual(loadError(url)?.problems, ["Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel: shape [32, 16], expected [16, 32]"])
    }

    func testBadMetadata() throws {
        let noLabels = try edited("nolabels") { h in
            var m = h["__metadata__"] as! [String: Any]
            m["labels"] = "[\"a\", \"b\"]"
            h["__metadata__"] = m
        }
        XCTAssertEqual(loadError(noLabels)?.problems, ["__metadata__.labels has 2 names for num_classes 5"])
        let badConfig = try edited("badconfig") { h in
            var m = h["__metadata__"] as! [String: Any]
            m["config"] = (m["config"] as! String).replacingOccurrences(of: "\"num_heads\": 2", with: "\"num_heads\": 3")
            h["__metadata__"] = m
        }
        XCTAssertEqual(loadError(badConfig)?.kind, .config)
        let noFormat = try edited("noformat") { h in h.removeValue(forKey: "__metadata__") }
        XCTAssertEqual(loadError(noFormat)?.kind, .metadata)
    }
}
