import XCTest
@testable import TokenReelPipeline

final class PipelineModuleTests: XCTestCase {
    func testModuleName() {
        XCTAssertEqual(TokenReelPipelineModule.name, "TokenReelPipeline")
    }
}
