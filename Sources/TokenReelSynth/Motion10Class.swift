/// The ten Motion10 classes, in label-index order (docs: shared/MOTION10.md).
///
/// Directions are as seen on the displayed frame: `left` is towards the left edge, `up` towards
/// the top, `rotateCW` is clockwise on screen. Image coordinates have x to the right and
/// y *down*, so a clockwise turn on screen is a *positive* angle in the usual
/// `x' = x cos a - y sin a, y' = x sin a + y cos a` rotation.
public enum Motion10Class: String, CaseIterable, Codable, Sendable, Comparable {
    case `static` = "static"
    case left, right, up, down
    case zoomIn = "zoom_in"
    case zoomOut = "zoom_out"
    case rotateCW = "rotate_cw"
    case rotateCCW = "rotate_ccw"
    case blink

    /// Label index 0...9, the position in the contract's table.
    public var index: Int { Motion10Class.allCases.firstIndex(of: self)! }

    /// Class names in index order, as written into datasets and model metadata.
    public static var names: [String] { allCases.map(\.rawValue) }

    public static func < (a: Motion10Class, b: Motion10Class) -> Bool { a.index < b.index }
}
