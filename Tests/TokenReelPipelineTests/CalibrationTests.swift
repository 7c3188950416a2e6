import XCTest
@testable import TokenReelPipeline

/// Threshold fitting on synthetic probability tables, checked against a brute force written
/// independently of the search.
final class CalibrationTests: XCTestCase {
    static let labels = ["a", "b", "c"]

    /// Stage probabilities: `top` on class `winner`, the rest shared equally.
    static func probabilities(top: Double, winner: Int) -> [Double] {
        (0 ..< 3).map { $0 == winner ? top : (1 - top) / 2 }
    }

    /// `n` one-clip videos over two stages costing 100 and 900 FLOPs: stage 0 is right more
    /// often the more confident it is, stage 1 is right on about 9 clips in 10.
    static func twoStageTable(n: Int = 60, seed: UInt64 = 7) -> CalibrationTable {
        var rng = SplitMix(seed: seed)
        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        var videos: [(path: String, truth: Int)] = [], clips: [CalibrationTable.Clip] = []
        for i in 0 ..< n {
            let truth = i % 3
            let c0 = 0.4 + 0.6 * uniform()
            let right0 = uniform() < c0, right1 = uniform() < 0.9
            clips.append(.init(video: i, truth: truth, probabilities: [
                probabilities(top: c0, winner: right0 ? truth : (truth + 1) % 3),
                probabilities(top: 0.5 + 0.4 * uniform(), winner: right1 ? truth : (truth + 2) % 3),
            ]))
            videos.append(("\(labels[truth])/v\(i).mp4", truth))
        }
        return CalibrationTable(labels: labels, stageFlops: [100, 900], stageGeometry: ["8x32x32", "16x64x64"], videos: videos, clips: clips)
    }

    /// Every exit set a threshold can make on a one-clip-per-video two-stage table, as (correct, mean FLOPs).
    static func bruteForce(_ t: CalibrationTable) -> [(correct: Int, flops: Double)] {
        let cuts = [0.0] + t.clips.map { $0.probabilities[0].max()! } + [.infinity]
        return cuts.map { cut in
            var correct = 0, flops = 0
            for clip in t.clips {
                let stage = clip.probabilities[0].max()! >= cut ? 0 : 1
                let p = clip.probabilities[stage]
                if p.firstIndex(of: p.max()!) == clip.truth { correct += 1 }
                flops += stage == 0 ? 100 : 1000
            }
            return (correct, Double(flops) / Double(t.clips.count))
        }
    }

    func testBudgetGivesTheMostAccurateThresholdsWithinIt() throws {
        let table = Self.twoStageTable()
        let all = Self.bruteForce(table)
        var previous = -1
        for budget in [0.12, 0.2, 0.35, 0.5, 0.7, 0.9, 1.2] {
            let fit = try Calibration.fit(table, target: .budget(budget))
            XCTAssertLessThanOrEqual(fit.chosen.meanFlops, budget * 900, "budget \(budget)")
            let best = all.filter { $0.flops <= budget * 900 }.map(\.correct).max()!
            XCTAssertEqual(fit.chosen.correct, best, "budget \(budget): not the most accurate within it")
            XCTAssertGreaterThanOrEqual(fit.chosen.correct, previous, "a larger budget never loses accuracy")
            previous = fit.chosen.correct
            // The reported figures are the replay of the chosen thresholds.
            XCTAssertEqual(Calibration.evaluate(table, thresholds: fit.chosen.thresholds), fit.chosen)
            XCTAssertEqual(fit.chosen.exits.reduce(0, +), 60)
            XCTAssertEqual(fit.lastStageFlops, 900)
        }
        // Below the cheapest cascade (every clip exits at stage 0: 100 of 900 FLOPs) nothing fits.
        XCTAssertThrowsError(try Calibration.fit(table, target: .budget(0.1))) { e in
            XCTAssertTrue("\(e)".contains("cheapest cascade") && "\(e)".contains("11.1%"), "\(e)")
        }
    }

    func testAccuracyDropGivesTheCheapestThresholdsWithinIt() throws {
        let table = Self.twoStageTable()
        let all = Self.bruteForce(table)
        let reference = all.last!.correct        // threshold infinity: the last stage alone
        XCTAssertEqual(Calibration.lastStageAccuracy(table), Double(reference) / 60)
        var previous = Double.infinity
        for drop in [0.0, 1.0, 5.0, 10.0, 30.0, 100.0] {
            let fit = try Calibration.fit(table, target: .maxAccuracyDrop(drop, confidence: 0))
            XCTAssertGreaterThanOrEqual(100 * fit.chosen.accuracy, 100 * fit.lastStageAccuracy - drop - 1e-9, "drop \(drop)")
            let cheapest = all.filter { 100 * Double($0.correct) / 60 >= 100 * Double(reference) / 60 - drop - 1e-9 }.map(\.flops).min()!
            XCTAssertEqual(fit.chosen.meanFlops, cheapest, accuracy: 1e-9, "drop \(drop): not the cheapest within it")
            XCTAssertLessThanOrEqual(fit.chosen.meanFlops, previous, "a larger allowed drop never costs more")
            previous = fit.chosen.meanFlops
        }
        // Any accuracy allowed: every clip stops at the cheap stage.
        XCTAssertEqual(previous, 100)
        XCTAssertEqual(try Calibration.fit(table, target: .maxAccuracyDrop(100, confidence: 0)).chosen.exits, [60, 0])
    }

    /// With a confidence, the drop is the paired per-video difference plus z standard errors:
    /// the cheapest thresholds whose bound (computed here from the brute force's per-video
    /// outcomes) is within the drop; never cheaper than the plain-difference choice.
    func testAccuracyDropAtAConfidenceUsesThePairedUpperBound() throws {
        XCTAssertEqual(Calibration.normalQuantile(0.975), 1.959_964, accuracy: 1e-6)
        XCTAssertEqual(Calibration.normalQuantile(0.5), 0, accuracy: 1e-12)
        // Five videos: the reference right on 0-3, the cascade on 0, 1, 3, 4: differences +1 (video 2)
        // and -1 (video 4), mean 0, sample variance 2/4, bound 0 + 1.6449 * sqrt(0.5 / 5).
        func eval(_ right: [Bool]) -> Calibration.Evaluation {
            .init(thresholds: [0.5], exits: [5, 0], exitCorrect: [0, 0], correct: right.filter { $0 }.count, videos: 5, meanFlops: 0, videoCorrect: right)
        }
        let reference = eval([true, true, true, true, false]), cascade = eval([true, true, false, true, true])
        XCTAssertEqual(Calibration.dropBound(cascade, below: reference, confidence: 0.95), 1.644_854 * (0.5 / 5).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(Calibration.dropBound(cascade, below: reference, confidence: 0), 0)
        XCTAssertEqual(Calibration.dropBound(reference, below: reference, confidence: 0.95), 0)

        let table = Self.twoStageTable(n: 300, seed: 11)
        let cuts = [0.0] + table.clips.map { $0.probabilities[0].max()! } + [.infinity]
        func outcomes(_ cut: Double) -> (right: [Bool], flops: Double) {
            let right = table.clips.map { clip -> Bool in
                let p = clip.probabilities[clip.probabilities[0].max()! >= cut ? 0 : 1]
                return p.firstIndex(of: p.max()!) == clip.truth
            }
            let flops = table.clips.map { $0.probabilities[0].max()! >= cut ? 100.0 : 1000.0 }.reduce(0, +) / Double(table.clips.count)
            return (right, flops)
        }
        let alone = outcomes(.infinity).right
        func bound(_ right: [Bool], z: Double) -> Double {
            let d = zip(alone, right).map { a, b -> Double in a == b ? 0 : (a ? 1 : -1) }
            let mean = d.reduce(0, +) / Double(d.count)
            let variance = d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count - 1)
            return 100 * (mean + z * (variance / Double(d.count)).squareRoot())
        }
        for drop in [0.5, 1.0, 2.0, 5.0] {
            let strict = try Calibration.fit(table, target: .maxAccuracyDrop(drop))
            let plain = try Calibration.fit(table, target: .maxAccuracyDrop(drop, confidence: 0))
            let cheapest = cuts.map(outcomes).filter { bound($0.right, z: 1.644_854) <= drop + 1e-9 }.map(\.flops).min()!
            XCTAssertEqual(strict.chosen.meanFlops, cheapest, accuracy: 1e-9, "drop \(drop)")
            XCTAssertEqual(strict.dropBound!, bound(strict.chosen.videoCorrect, z: 1.644_854), accuracy: 1e-6)
            XCTAssertGreaterThanOrEqual(strict.chosen.meanFlops, plain.chosen.meanFlops, "drop \(drop)")
        }
        // On this table the bound matters: at 1 point the plain difference lets more clips exit early.
        XCTAssertGreaterThan(try Calibration.fit(table, target: .maxAccuracyDrop(1)).chosen.meanFlops,
                             try Calibration.fit(table, target: .maxAccuracyDrop(1, confidence: 0)).chosen.meanFlops)
    }

    func testReplayAveragesAVideosClipsAtTheirExitStages() {
        // Video 0 (class 1) has two clips; video 1 (class 0) one.
        let clips: [CalibrationTable.Clip] = [
            .init(video: 0, truth: 1, probabilities: [[0.9, 0.1, 0.0], [0.1, 0.8, 0.1]]),
            .init(video: 0, truth: 1, probabilities: [[0.2, 0.7, 0.1], [0.1, 0.8, 0.1]]),
            .init(video: 1, truth: 0, probabilities: [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]]),
        ]
        let t = CalibrationTable(labels: Self.labels, stageFlops: [10, 30], stageGeometry: ["a", "b"],
                                 videos: [("b/x.mp4", 1), ("a/y.mp4", 0)], clips: clips)
        // 0.8: clip 0 exits (0.9) and says class 0, clip 1 goes on: video 0's mean [0.5, 0.45, 0.05] is wrong;
        // video 1's clip goes on to a wrong stage 1.
        let mid = Calibration.evaluate(t, thresholds: [0.8])
        XCTAssertEqual(mid.exits, [1, 2])
        XCTAssertEqual(mid.exitCorrect, [0, 1])
        XCTAssertEqual(mid.correct, 0)
        XCTAssertEqual(mid.videos, 2)
        XCTAssertEqual(mid.meanFlops, (10 + 40 + 40) / 3)
        // 0.5: every clip exits at stage 0; video 0's mean [0.55, 0.4, 0.05] is wrong, video 1 right.
        XCTAssertEqual(Calibration.evaluate(t, thresholds: [0.5]).correct, 1)
        // 0.95: every clip runs both stages; video 0 right, video 1 wrong.
        let late = Calibration.evaluate(t, thresholds: [0.95])
        XCTAssertEqual(late.correct, 1)
        XCTAssertEqual(late.exits, [0, 3])
        XCTAssertEqual(late.meanFlops, 40)
    }

    func testThreeStagesAndTheThinnedGrid() throws {
        var rng = SplitMix(seed: 3)
        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        var clips: [CalibrationTable.Clip] = [], videos: [(path: String, truth: Int)] = []
        for i in 0 ..< 80 {
            let truth = i % 3
            clips.append(.init(video: i, truth: truth, probabilities: (0 ..< 3).map { s in
                let c = 0.4 + 0.6 * uniform()
                return Self.probabilities(top: c, winner: uniform() < c + 0.1 * Double(s) ? truth : (truth + 1) % 3)
            }))
            videos.append(("v\(i)", truth))
        }
        let table = CalibrationTable(labels: Self.labels, stageFlops: [50, 200, 800], stageGeometry: ["s", "m", "l"], videos: videos, clips: clips)
        let grids = Calibration.candidateGrids(table)
        XCTAssertEqual(grids.count, 2)
        XCTAssertTrue(grids.allSatisfy { $0.count <= 64 && $0.first == 0 && $0.last == 1 && $0 == $0.sorted() }, "\(grids.map(\.count))")
        let fit = try Calibration.fit(table, target: .budget(0.4))
        XCTAssertEqual(fit.combinations, grids[0].count * grids[1].count)
        XCTAssertLessThanOrEqual(fit.combinations, Calibration.maxCombinations)
        XCTAssertEqual(fit.chosen.thresholds.count, 2)
        XCTAssertLessThanOrEqual(fit.chosen.meanFlops, 0.4 * 800)
        // No combination of the grid does better within the budget.
        for a in grids[0] { for b in grids[1] {
            let e = Calibration.evaluate(table, thresholds: [a, b])
            if e.meanFlops <= 0.4 * 800 { XCTAssertLessThanOrEqual(e.correct, fit.chosen.correct) }
        } }
        let text = fit.table(table)
        XCTAssertTrue(text.hasPrefix("stage  input       threshold  exits    accuracy  GFLOPs/clip\n"), text)
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasPrefix("2      l ") }.count, 1, text)
        XCTAssertTrue(text.contains("of the last stage alone"), text)
    }

    func testSeparatorsAreShortDecimalsStrictlyBetween() {
        for (lo, hi) in [(0.42, 0.47), (0.1234567, 0.1234568), (0.9, 1.0), (0.0, 1e-9)] {
            let s = Calibration.separator(lo, hi)
            XCTAssertTrue(lo < s && s < hi, "\(s) not strictly between \(lo) and \(hi)")
        }
        XCTAssertEqual("\(Calibration.separator(0.42, 0.47))".count, 4)    // 0.45 or 0.44
        let next = 0.5.nextUp
        XCTAssertEqual(Calibration.separator(0.5, next), next)                // nothing between two neighbours
    }

    func testTheWrittenPipelineHasTheThresholdsAndStillFindsItsModels() throws {
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("pipes/c.yaml")
        try FileManager.default.createDirectory(at: source.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("""
            # a comment
            name: c
            cascade:
              - model: ../m/small.safetensors   # cheap
                frames: 8
                threshold: 0.5
              - {model: /abs/full.safetensors}
            sampling:
              mode: uniform
            workers:
              batch_size: 3
            """.utf8).write(to: source)
        let original = try PipelineConfig.load(path: source.path)
        for destination in [dir.appendingPathComponent("pipes/fitted.yaml"), dir.appendingPathComponent("elsewhere/fitted.yaml")] {
            let text = try Calibration.pipelineYAML(source: source.path, thresholds: [0.4375], destination: destination.path, header: "fitted\non a set")
            XCTAssertTrue(text.hasPrefix("# fitted\n# on a set\n"), text)
            let fitted = try PipelineConfig.parse(yaml: text, file: destination.path)
            XCTAssertEqual(fitted.cascade?.map(\.threshold), [0.4375, nil])
            XCTAssertEqual(fitted.modelURLs, original.modelURLs, "model paths must still name the same files")
            XCTAssertEqual(fitted.cascade?[0].geometry.frames, 8)
            XCTAssertEqual(fitted.workers.batchSize, 3)
            XCTAssertEqual(fitted.name, "c")
        }
        XCTAssertThrowsError(try Calibration.pipelineYAML(source: source.path, thresholds: [0.1, 0.2], destination: source.path, header: ""))
    }
}
