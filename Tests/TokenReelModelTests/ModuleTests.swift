import XCTest
@testable import TokenReelModel

final class ModelModuleTests: XCTestCase {
    func testModuleName() {
        XCTAssertEqual(TokenReelModelModule.name, "TokenReelModel")
    }
}
