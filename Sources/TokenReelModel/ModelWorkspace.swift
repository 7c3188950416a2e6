/// Per-worker scratch memory of the forward pass. Not thread-safe: give every worker its own
/// (`VideoModel.makeWorkspace()`); buffers grow to the largest batch seen and are reused.
public final class ModelWorkspace {
    /// The buffers of one forward pass; see `VideoModel.scratch(batch:)` for their shapes.
    enum Slot: Int, CaseIterable {
        case input, patches, x, y, qkv, attn, scores, hidden, mask, maskT, tokens, tokens2, im2col, pooled, pooled2, keepScores
    }

    private var pointers: [UnsafeMutablePointer<Float>?]
    private var capacities: [Int]

    init() {
        pointers = Array(repeating: nil, count: Slot.allCases.count)
        capacities = Array(repeating: 0, count: Slot.allCases.count)
    }

    deinit { for p in pointers { p?.deallocate() } }

    /// A buffer of at least `count` floats. Contents are unspecified. A later call for the same
    /// slot with a larger count invalidates earlier pointers to that slot.
    func buffer(_ slot: Slot, _ count: Int) -> UnsafeMutablePointer<Float> {
        let i = slot.rawValue
        if capacities[i] < count || pointers[i] == nil {
            pointers[i]?.deallocate()
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            pointers[i] = p
            capacities[i] = max(count, 1)
        }
        return pointers[i]!
    }

    /// Bytes currently held.
    public var bytes: Int { capacities.reduce(0, +) * MemoryLayout<Float>.stride }
}
