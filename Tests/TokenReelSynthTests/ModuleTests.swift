import XCTest
@testable import TokenReelSynth

final class SynthModuleTests: XCTestCase {
    func testModuleName() {
        XCTAssertEqual(TokenReelSynthModule.name, "TokenReelSynth")
    }
}
