import XCTest
@testable import TokenReelPipeline

/// `tokenreel export` through the pipeline's decode stage (here the deterministic double), and
/// the temporal control that shuffles frames.
final class ExportTests: XCTestCase {
    var root: URL!
    override func setUpWithError() throws { root = try TestPaths.makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testExportKeepsDecodeOrderLabelsAndReportsFailuresWithAnyWorkerCount() throws {
        let labels = ["static", "left", "right"]
        try writeFake(root, "left/b.mp4", "clips=2 b")
        try writeFake(root, "left/a.mp4", "clips=1 a")
        try writeFake(root, "static/s.mp4", "clips=3 s")
        try writeFake(root, "right/broken.mp4", "garbage")
        try writeFake(root, "zoom_in/z.mp4", "clips=1 z")          // not a class of the model
        try writeFake(root, "loose.mp4", "clips=1 l")              // not in a class directory

        var previous: ClipExport.Result?
        for workers in [1, 3] {
            let r = try ClipExport.run(root: root.path, extensions: ["mp4"], labels: labels, decoder: FakeDecoder(), workers: workers)
            XCTAssertEqual(r.videos, ["left/a.mp4", "left/b.mp4", "left/b.mp4", "static/s.mp4", "static/s.mp4", "static/s.mp4"])
            XCTAssertEqual(r.clipIndices, [0, 0, 1, 0, 1, 2])
            XCTAssertEqual(r.labels, [1, 1, 1, 0, 0, 0])
            XCTAssertEqual(r.failures.map(\.path), ["loose.mp4", "right/broken.mp4", "zoom_in/z.mp4"])
            XCTAssertTrue(r.failures[1].message.contains("not_media"), r.failures[1].message)
            XCTAssertEqual(r.pixels.count, 6 * 2 * 2 * 2 * 3)
            // The pixels are the decode stage's, clip for clip.
            var fromDecoder: [UInt8] = []
            try FakeDecoder().decode(path: root.appendingPathComponent("left/b.mp4").path, opened: { _ in }) { fromDecoder += $0.pixels }
            XCTAssertEqual(Array(r.pixels[24..<72]), fromDecoder)
            if let previous { XCTAssertEqual(previous.pixels, r.pixels) }
            previous = r
        }
    }

    func testShuffledFramesAreAReproduciblePermutationThatDiffersByVideo() {
        let frames = 8, size = 2 * 2 * 3
        let clip = ClipFrames(index: 3, start: 0, end: 1, timestamps: (0..<frames).map(Double.init),
                              frameTimestamps: (0..<frames).map { Double($0) / 10 }, crop: "center", repeatedFrames: false,
                              pixels: (0..<frames).flatMap { [UInt8](repeating: UInt8($0), count: size) },
                              frames: frames, height: 2, width: 2)
        let a = clip.shuffled(), b = clip.shuffled()
        XCTAssertEqual(a.pixels, b.pixels, "the same clip shuffles the same way every time")
        let order = (0..<frames).map { Int(a.pixels[$0 * size]) }
        XCTAssertEqual(order.sorted(), Array(0..<frames), "a permutation of the frames")
        XCTAssertNotEqual(order, Array(0..<frames))
        XCTAssertEqual(a.frameTimestamps, order.map { Double($0) / 10 }, "timestamps follow their frames")
        for f in 0..<frames { XCTAssertEqual(Set(a.pixels[(f * size)..<((f + 1) * size)]).count, 1, "frames move whole") }
        XCTAssertEqual(a.timestamps, clip.timestamps)
        // Other videos (seeds) get other orders, with no order kept across them: the first frame
        // lands before the last in about half of them (a single shared permutation: all or none).
        let orders = (1...400).map { seed in (0..<frames).map { Int(clip.shuffled(seed: UInt64(seed)).pixels[$0 * size]) } }
        XCTAssertGreaterThan(Set(orders).count, 300)
        let firstBeforeLast = orders.filter { $0.firstIndex(of: 0)! < $0.firstIndex(of: frames - 1)! }.count
        XCTAssertTrue((140...260).contains(firstBeforeLast), "\(firstBeforeLast) of 400")
    }
}
