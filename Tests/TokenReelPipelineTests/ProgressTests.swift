import XCTest
import TokenReelPipeline
@testable import tokenreel

final class ProgressTests: XCTestCase {
    func testStatusTextShowsDoneRateETAAndFailures() {
        let p = ProgressSnapshot(done: 10, total: 40, failures: 2, clips: 30, elapsedSeconds: 20)
        // 30 clips in 20 s; 30 videos left at 2 s each = 60 s.
        XCTAssertEqual(ProgressDisplay.statusText(p), "10/40 videos, 1.5 clips/s, ETA 1:00, 2 failed")
        XCTAssertEqual(ProgressDisplay.barLine(p, width: 8), "[##......] 10/40 videos, 1.5 clips/s, ETA 1:00, 2 failed")
        let done = ProgressSnapshot(done: 40, total: 40, failures: 0, clips: 120, elapsedSeconds: 60)
        XCTAssertEqual(ProgressDisplay.statusText(done), "40/40 videos, 2.0 clips/s, ETA 0:00, 0 failed")
        XCTAssertEqual(ProgressDisplay.statusText(ProgressSnapshot(done: 0, total: 5, failures: 0, clips: 0, elapsedSeconds: 0)),
                       "0/5 videos, 0.0 clips/s, ETA -, 0 failed")
    }

    func testProgressModesMapToStyles() {
        XCTAssertEqual(ProgressDisplay(mode: .never).style, .none)
        XCTAssertEqual(ProgressDisplay(mode: .always).style, .bar)
        // Under `swift test` stderr is a pipe or a file, not a terminal.
        if !Terminal.stderrIsTTY { XCTAssertEqual(ProgressDisplay(mode: .auto).style, .lines) }
    }
}
