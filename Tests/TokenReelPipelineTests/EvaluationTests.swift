import XCTest
@testable import TokenReelPipeline

final class EvaluationTests: XCTestCase {
    func testCountsConfusionPerClassAndSetsAsideFailuresAndStrangers() {
        let labels = ["left", "right", "blink"]
        let report = Evaluation.evaluate(labels: labels, predictions: [
            ("left/a.mp4", "left"), ("left/b.mp4", "right"), ("right/c.mp4", "right"),
            ("blink/d.mp4", "blink"), ("blink/e.mp4", nil), ("loose.mp4", "left"), ("other/f.mp4", "left"),
        ])
        XCTAssertEqual(report.confusion, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
        XCTAssertEqual(report.total, 4)
        XCTAssertEqual(report.correct, 3)
        XCTAssertEqual(report.accuracy, 0.75)
        XCTAssertEqual(report.perClass.map(\.accuracy), [0.5, 1, 1])
        XCTAssertEqual(report.failed, ["blink/e.mp4"])
        XCTAssertEqual(report.unlabelled, ["loose.mp4", "other/f.mp4"])
        let table = report.table()
        XCTAssertTrue(table.hasPrefix("accuracy 75.00% (3/4), 1 failed, 2 outside the classes"), table)
        XCTAssertTrue(table.contains("left            2    50.0%"), table)
    }

    func testTrueLabelIsTheFirstPathComponent() {
        XCTAssertEqual(Evaluation.trueLabel(of: "zoom_in/x/y.mp4"), "zoom_in")
        XCTAssertNil(Evaluation.trueLabel(of: "x.mp4"))
    }
}
