import Foundation

/// Token keeping at inference, as SuperViT does (docs/model-format.md, "Token keeping"; the Flax
/// reference is training/tokenreel_ref/keep.py).
///
/// At every layer in `layers`, after the attention residual and before the MLP of that block, the
/// block keeps the tokens that receive the most attention and discards the others. With N tokens
/// entering the block and A[h, i, j] its attention probabilities:
/// - pooled classifiers (gap / gmp / gsp): score(j) = mean over heads h and queries i of A[h, i, j];
///   keep ceil(rate * N) tokens;
/// - classifier `token`: score(j) = mean over heads of the cls row A[h, 0, j], patch tokens only;
///   keep cls plus min(ceil(rate * N), N - 1) patch tokens, N counting cls (SuperViT's count).
/// ceil(rate * N) is computed in Double. Ties go to the lower token index; kept tokens stay in
/// their original order. TokenLearner models are not supported.
public struct TokenKeeping: Sendable, Equatable, CustomStringConvertible {
    /// 0 < rate <= 1; 1 keeps every token.
    public let rate: Double
    /// Encoder layer indices, ascending, no repeats.
    public let layers: [Int]

    /// Why `rate` and `layers` cannot be used with `config` (empty when they can).
    public static func problems(rate: Double, layers: [Int], config: ModelConfig) -> [String] {
        var p = [String]()
        if !(rate > 0 && rate <= 1) { p.append("token keeping rate must satisfy 0 < rate <= 1, got \(rate)") }
        if layers.isEmpty { p.append("token keeping layers must not be empty") }
        if Set(layers).count != layers.count { p.append("token keeping layers \(layers) repeat a layer") }
        let bad = layers.filter { $0 < 0 || $0 >= config.numLayers }
        if !bad.isEmpty { p.append("token keeping layers \(bad) out of range 0...\(config.numLayers - 1)") }
        if config.tokenlearner != nil { p.append("token keeping is not supported with TokenLearner (only plain ViViT models)") }
        return p
    }

    init(rate: Double, layers: [Int]) {
        self.rate = rate
        self.layers = layers.sorted()
    }

    /// Tokens kept (cls included) out of `n` (counting cls when `cls`).
    public static func keptTokens(rate: Double, of n: Int, cls: Bool) -> Int {
        let k = Int((rate * Double(n)).rounded(.up))
        return cls ? min(k, n - 1) + 1 : min(k, n)
    }

    /// Token counts entering each layer and the MLP of each layer, for `config` (one clip).
    func counts(_ config: ModelConfig) -> (block: [Int], mlp: [Int]) {
        var n = config.inputTokens, block = [Int](), mlp = [Int]()
        for l in 0 ..< config.numLayers {
            block.append(n)
            if layers.contains(l) { n = Self.keptTokens(rate: rate, of: n, cls: config.classifier == .token) }
            mlp.append(n)
        }
        return (block, mlp)
    }

    public var description: String { "rate \(rate) at layers \(layers)" }
}
