import XCTest
@testable import TokenReelMedia

final class MediaModuleTests: XCTestCase {
    func testModuleName() {
        XCTAssertEqual(TokenReelMediaModule.name, "TokenReelMedia")
    }
}
