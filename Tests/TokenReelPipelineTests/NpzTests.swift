import Foundation
import XCTest
@testable import TokenReelPipeline

/// The `.npz` writer is checked by NumPy itself: the trainer reads these files with `numpy.load`.
final class NpzTests: XCTestCase {
    func testNumPyReadsEveryArrayBack() throws {
        let python = try XCTUnwrap(PythonWithNumPy.find(), "no Python with NumPy: run `make setup-python` (creates .venv)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npz-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("data.npz")

        var npz = NpzWriter()
        let count = 2 * 3 * 4 * 5 * 3
        let pixels: [UInt8] = (0..<count).map { (i: Int) -> UInt8 in UInt8(i % 251) }
        npz.add("pixels", uint8: pixels, shape: [2, 3, 4, 5, 3])
        npz.add("labels", int32: [7, -1])
        npz.add("weights", float32: [0.5, -2.25, 1e-3])
        npz.add("label_names", strings: ["static", "zoom_in", "ü"])
        npz.add("normalization", string: "{\"type\": \"zero_centered\"}")
        try npz.write(to: url)

        let script = """
        import sys, numpy as np
        z = np.load(sys.argv[1], allow_pickle=False)
        p = z["pixels"]
        assert p.dtype == np.uint8 and p.shape == (2, 3, 4, 5, 3), (p.dtype, p.shape)
        assert (p.reshape(-1) == np.arange(p.size) % 251).all()
        assert z["labels"].tolist() == [7, -1] and z["labels"].dtype == np.int32
        assert np.allclose(z["weights"], [0.5, -2.25, 1e-3]) and z["weights"].dtype == np.float32
        assert z["label_names"].tolist() == ["static", "zoom_in", "ü"], z["label_names"]
        assert str(z["normalization"]) == '{"type": "zero_centered"}'
        assert sorted(z.files) == ["label_names", "labels", "normalization", "pixels", "weights"]
        print("OK")
        """
        let out = try PythonWithNumPy.run(python, script: script, arguments: [url.path])
        XCTAssertEqual(out.status, 0, out.output)
        XCTAssertTrue(out.output.contains("OK"), out.output)
    }
}

/// Finds a Python interpreter that has NumPy: the repository's `.venv` (made by `make test`)
/// first, then `python3` on the PATH.
enum PythonWithNumPy {
    static func find() -> String? {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for candidate in [repo.appendingPathComponent(".venv/bin/python").path, "/usr/bin/python3", "/usr/local/bin/python3"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            if let r = try? run(candidate, script: "import numpy", arguments: []), r.status == 0 { return candidate }
        }
        return nil
    }

    static func run(_ python: String, script: String, arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
