/// An 8-bit RGB colour.
public struct RGB: Equatable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    public static let grey = RGB(150, 150, 150)
    public static let lightGrey = RGB(225, 225, 225)

    /// Linear blend: `t` = 0 gives `a`, 1 gives `b`.
    public static func mix(_ a: RGB, _ b: RGB, _ t: Double) -> RGB {
        let t = min(max(t, 0), 1)
        func ch(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) + (Double(y) - Double(x)) * t).rounded()) }
        return RGB(ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b))
    }

    /// Relative luminance in 0...1 (Rec. 709 weights), to choose readable text on a fill.
    public var luminance: Double { (0.2126 * Double(r) + 0.7152 * Double(g) + 0.0722 * Double(b)) / 255 }
}

/// A raster of RGB pixels with the few drawing operations charts need.
/// Coordinates are pixels, origin top-left, x to the right, y down; drawing outside is clipped.
public struct Canvas {
    public let width: Int
    public let height: Int
    /// [height, width, 3] row-major RGB.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGB = .white) {
        precondition(width > 0 && height > 0)
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fillRect(x: 0, y: 0, width: width, height: height, background)
    }

    public func pixel(x: Int, y: Int) -> RGB {
        let i = (y * width + x) * 3
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    public mutating func set(x: Int, y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, _ c: RGB) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 {
            for xx in x0..<x1 { set(x: xx, y: yy, c) }
        }
    }

    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, _ c: RGB) {
        line(x, y, x + w - 1, y, c); line(x, y + h - 1, x + w - 1, y + h - 1, c)
        line(x, y, x, y + h - 1, c); line(x + w - 1, y, x + w - 1, y + h - 1, c)
    }

    /// A straight line (Bresenham), `thickness` pixels wide (square pen).
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: RGB, thickness: Int = 1) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let r0 = -(thickness - 1) / 2, r1 = thickness / 2
        while true {
            for oy in r0...r1 { for ox in r0...r1 { set(x: x + ox, y: y + oy, c) } }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    public mutating func fillCircle(cx: Int, cy: Int, radius: Int, _ c: RGB) {
        for yy in (cy - radius)...(cy + radius) {
            for xx in (cx - radius)...(cx + radius)
            where (xx - cx) * (xx - cx) + (yy - cy) * (yy - cy) <= radius * radius {
                set(x: xx, y: yy, c)
            }
        }
    }

    /// Width in pixels of `text` drawn at `scale`.
    public static func textWidth(_ text: String, scale: Int = 1) -> Int {
        max(0, text.count * BitmapFont.advance - 1) * scale
    }

    public static func textHeight(scale: Int = 1) -> Int { BitmapFont.glyphHeight * scale }

    /// Draws `text` with its top-left corner at (x, y); `vertical` runs it bottom-to-top.
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 1, _ c: RGB = .black, vertical: Bool = false) {
        for (i, ch) in text.enumerated() {
            let rows = BitmapFont.rows(for: ch)
            for (ry, bits) in rows.enumerated() {
                for rx in 0..<BitmapFont.glyphWidth where bits & (1 << (BitmapFont.glyphWidth - 1 - rx)) != 0 {
                    let gx = (i * BitmapFont.advance + rx) * scale, gy = ry * scale
                    for sy in 0..<scale {
                        for sx in 0..<scale {
                            if vertical { set(x: x + gy + sy, y: y - gx - sx, c) } else { set(x: x + gx + sx, y: y + gy + sy, c) }
                        }
                    }
                }
            }
        }
    }

    /// The canvas as a PNG file.
    public func png() throws -> [UInt8] { try PNG.encode(width: width, height: height, rgb: pixels) }
}
