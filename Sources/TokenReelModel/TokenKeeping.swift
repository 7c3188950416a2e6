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
/// their original order.
///
/// TokenLearner models (pooled, T' temporal slices of P positions; `cut(layer:tokens:config:)`):
/// - layers before `tokenlearner.loc` rank within each temporal slice and keep ceil(rate * P) per
///   slice, because TokenLearner (and TokenFuser) reshape the tokens to [B*T', P, D] and need the
///   same count in every slice; later layers then see P' = ceil(rate * P) positions per slice;
/// - layers from `loc` on, without TokenFuser, rank across all T'*S learned tokens;
/// - with TokenFuser, layers from `loc` on cannot keep (each block runs on the S learned tokens
///   of every slice, which TokenFuser mixes as a fixed set with its [S, S] kernel);
/// - TokenLearner v1.0 cannot keep before `loc` (its 3x3 convolutions need the full H' x W' grid).
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
        if let tl = config.tokenlearner {
            let before = layers.filter { $0 < tl.loc }.sorted(), after = layers.filter { $0 >= tl.loc }.sorted()
            if tl.version == "1.0", !before.isEmpty {
                p.append("token keeping layers \(before) come before tokenlearner.loc \(tl.loc): TokenLearner v1.0 convolves "
                    + "the full H'xW' grid of every temporal slice, so no patch token can be dropped before it; keep at layers >= \(tl.loc)")
            }
            if tl.useTokenfuse, !after.isEmpty {
                p.append("token keeping layers \(after) are at or after tokenlearner.loc \(tl.loc): with TokenFuser those blocks "
                    + "run on the S learned tokens of each temporal slice, which TokenFuser mixes as a fixed set ([S, S] kernel), "
                    + "so none can be dropped; " + (tl.loc > 0 ? "keep at layers < \(tl.loc)" : "this model (loc 0) has no layer to keep at"))
            }
        }
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

    /// The cut at keep layer `layer` of `config` with `n` tokens (one clip) entering its block:
    /// `groups` equal runs of tokens ranked separately (T' temporal slices before a TokenLearner,
    /// else 1) and the tokens kept in all (`groups` times the count kept per group).
    func cut(layer: Int, tokens n: Int, config: ModelConfig) -> (groups: Int, kept: Int) {
        if let tl = config.tokenlearner, layer < tl.loc {
            let g = config.grid.t
            return (g, g * Self.keptTokens(rate: rate, of: n / g, cls: false))
        }
        return (1, Self.keptTokens(rate: rate, of: n, cls: config.classifier == .token))
    }

    public var description: String { "rate \(rate) at layers \(layers)" }
}
