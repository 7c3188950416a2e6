/// How RGB24 pixel values become model inputs. Stored in `__metadata__["normalization"]` as
/// JSON: `{"type": "zero_centered"}`, `{"type": "unit"}` or
/// `{"type": "mean_std", "mean": [r, g, b], "std": [r, g, b]}` (docs/model-format.md).
public enum PixelNormalization: Sendable, Codable, Equatable {
    /// x / 255 * 2 - 1, in [-1, 1] (ViViT / Scenic `zero_centering`).
    case zeroCentered
    /// x / 255, in [0, 1].
    case unit
    /// (x / 255 - mean[c]) / std[c] per channel c.
    case meanStd(mean: [Float], std: [Float])

    enum CodingKeys: String, CodingKey { case type, mean, std }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "zero_centered": self = .zeroCentered
        case "unit": self = .unit
        case "mean_std":
            let mean = try c.decode([Float].self, forKey: .mean), std = try c.decode([Float].self, forKey: .std)
            guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
                throw DecodingError.dataCorruptedError(forKey: .std, in: c, debugDescription: "mean and std need 3 values, std > 0")
            }
            self = .meanStd(mean: mean, std: std)
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown normalization type \"\(other)\"")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .zeroCentered: try c.encode("zero_centered", forKey: .type)
        case .unit: try c.encode("unit", forKey: .type)
        case let .meanStd(mean, std):
            try c.encode("mean_std", forKey: .type); try c.encode(mean, forKey: .mean); try c.encode(std, forKey: .std)
        }
    }

    /// Normalises `count` RGB24 values (a multiple of 3) into `out`.
    ///
    /// Computed as (x / 255) * 2 - 1 etc. in the same order as the Flax reference's
    /// `normalize`, so both see bit-identical inputs.
    func apply(_ pixels: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch self {
        case .zeroCentered:
            for i in 0 ..< count { out[i] = Float(pixels[i]) / 255 * 2 - 1 }
        case .unit:
            for i in 0 ..< count { out[i] = Float(pixels[i]) / 255 }
        case let .meanStd(mean, std):
            for i in 0 ..< count { out[i] = (Float(pixels[i]) / 255 - mean[i % 3]) / std[i % 3] }
        }
    }
}
