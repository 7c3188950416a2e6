// Tensors of the model module.
//
// Dimension legend used in every file of this module:
//   B  clips in a batch              T, H, W  frames, height, width of a clip (pixels), C = 3 (RGB)
//   t, h, w  tubelet (3-D patch) size   T' = T/t, H' = H/h, W' = W/w (floor)   P = H'W' positions per slice
//   N  tokens of one clip (T'P, +1 with the `token` classifier; T'S after TokenLearner)
//   D  width (hidden size)   Hd heads, dh = D/Hd   M  MLP width   S  learned tokens per slice
//   G  = B*T' temporal slices of a batch      K  classes      R  pre_logits width (representation)

/// A contiguous, row-major float32 array with its shape.
///
/// Used at the module boundary only (inputs, token sets, logits); the forward pass works on
/// workspace buffers.
public struct Tensor: Sendable, Equatable {
    /// Sizes of each dimension, outermost first.
    public var shape: [Int]
    /// `shape.reduce(1, *)` values, row-major.
    public var data: [Float]

    /// - Precondition: `data.count` equals the product of `shape`.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "Tensor: \(data.count) values for shape \(shape)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// Number of values.
    public var count: Int { data.count }

    /// The `i`-th slice along the first dimension, e.g. one clip of `[B, T, H, W, 3]`.
    public func slice(_ i: Int) -> Tensor {
        precondition(!shape.isEmpty && i >= 0 && i < shape[0], "Tensor.slice: \(i) out of \(shape)")
        let inner = Array(shape.dropFirst())
        let n = inner.reduce(1, *)
        return Tensor(shape: inner, data: Array(data[i * n ..< (i + 1) * n]))
    }

    /// Stacks tensors of one shape along a new first dimension.
    public static func stack(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "Tensor.stack: nothing to stack")
        let inner = parts[0].shape
        var data = [Float]()
        data.reserveCapacity(parts.count * parts[0].count)
        for p in parts {
            precondition(p.shape == inner, "Tensor.stack: shape \(p.shape) differs from \(inner)")
            data.append(contentsOf: p.data)
        }
        return Tensor(shape: [parts.count] + inner, data: data)
    }
}
