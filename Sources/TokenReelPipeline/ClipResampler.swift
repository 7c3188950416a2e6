import Foundation

/// Derives a cheaper cascade stage's clip from the decoded one, so a video is decoded once, at
/// the largest geometry any stage takes, and never again for the smaller stages.
///
/// Dimension legend: T x H x W the decoded clip, T' x H' x W' the derived one (each at most the
/// decoded size), 3 RGB channels.
///
/// The rule (a stage model must be trained on clips derived the same way):
/// - **Frames**: derived frame i (0 <= i < T') is decoded frame floor((2i + 1) T / (2 T')), the
///   middle of the i-th of T' equal parts of 0..<T. With T = 16, T' = 8: 1, 3, 5, ..., 15;
///   T' = T keeps every frame. The clip's `timestamps` and `frameTimestamps` are taken at the
///   same indices.
/// - **Pixels**: an area (box) filter: derived pixel (y, x) is the mean of the decoded pixels
///   under the rectangle [y H/H', (y+1) H/H') x [x W/W', (x+1) W/W'), each weighted by the
///   fraction of it inside the rectangle (so an integer factor k averages k x k blocks), then
///   rounded half up to 0...255. Rows and columns are filtered separately, in Double.
///   The same in NumPy for integer factors:
///   `np.floor(clip.reshape(T, H', k, W', k, 3).mean(axis=(2, 4)) + 0.5)`.
public enum ClipResampler {
    /// The decoded frame each of `derived` frames takes from `decoded` frames (`derived <= decoded`).
    public static func frameIndices(from decoded: Int, to derived: Int) -> [Int] {
        precondition(derived >= 1 && derived <= decoded, "cannot take \(derived) frames from \(decoded)")
        return (0 ..< derived).map { ((2 * $0 + 1) * decoded) / (2 * derived) }
    }

    /// `clip` at `frames` x `height` x `width` (each at most the clip's own) by the rule above;
    /// the clip itself when the geometry is already its own.
    public static func derive(_ clip: ClipFrames, frames: Int, height: Int, width: Int) -> ClipFrames {
        precondition(frames <= clip.frames && height <= clip.height && width <= clip.width,
                     "a derived clip is never larger than the decoded one (\(frames)x\(height)x\(width) from \(clip.frames)x\(clip.height)x\(clip.width))")
        if (frames, height, width) == (clip.frames, clip.height, clip.width) { return clip }
        let indices = frameIndices(from: clip.frames, to: frames)
        if let ky = binaryFactor(clip.height, height), let kx = binaryFactor(clip.width, width) {
            return blockMeans(clip, indices: indices, ky: ky, kx: kx)
        }
        let rows = FlatTaps(boxWeights(from: clip.height, to: height))
        let columns = FlatTaps(boxWeights(from: clip.width, to: width))
        let inH = clip.height, inW = clip.width, n = width * 3
        let frameIn = inH * inW * 3, frameOut = height * n
        var pixels = [UInt8](repeating: 0, count: frames * frameOut)
        let across = UnsafeMutablePointer<Double>.allocate(capacity: inH * n)   // [H, W', 3] of one frame
        let row = UnsafeMutablePointer<Double>.allocate(capacity: n)            // [W', 3]: one output row's sums
        defer { across.deallocate(); row.deallocate() }
        // Each channel sums its taps in tap order, from 0, in Double: the result is the rule's, exactly.
        clip.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for (f, source) in indices.enumerated() {
                    // Columns first: every decoded row filtered to W' pixels.
                    for y in 0 ..< inH {
                        let line = src.baseAddress! + source * frameIn + y * inW * 3, out = across + y * n
                        for x in 0 ..< width {
                            var s0 = 0.0, s1 = 0.0, s2 = 0.0
                            for t in columns.taps(x) {
                                let p = line + columns.index[t] * 3, w = columns.weight[t]
                                s0 += w * Double(p[0]); s1 += w * Double(p[1]); s2 += w * Double(p[2])
                            }
                            out[x * 3] = s0; out[x * 3 + 1] = s1; out[x * 3 + 2] = s2
                        }
                    }
                    // Then rows: H rows to H', a whole row of W' x 3 values per tap.
                    for y in 0 ..< height {
                        row.update(repeating: 0, count: n)
                        for t in rows.taps(y) {
                            let w = rows.weight[t], line = across + rows.index[t] * n
                            for i in 0 ..< n { row[i] += w * line[i] }
                        }
                        // sum >= 0, so truncating sum + 0.5 is rounding half up.
                        let out = dst.baseAddress! + f * frameOut + y * n
                        for i in 0 ..< n { out[i] = UInt8(min(255, Int(row[i] + 0.5))) }
                    }
                }
            }
        }
        return derived(clip, indices: indices, height: height, width: width, pixels: pixels)
    }

    /// `clip` with `pixels` (T' = `indices.count` frames of `height` x `width`) and the timestamps
    /// of the frames at `indices`.
    private static func derived(_ clip: ClipFrames, indices: [Int], height: Int, width: Int, pixels: [UInt8]) -> ClipFrames {
        var out = clip
        out.pixels = pixels
        out.frames = indices.count; out.height = height; out.width = width
        out.timestamps = indices.map { clip.timestamps[$0] }
        out.frameTimestamps = indices.map { clip.frameTimestamps[$0] }
        return out
    }

    /// `source / target` when it is a whole power of two (1, 2, 4, ...): then every weight of the
    /// rule (1/k per axis) and every partial sum is exact in Double, and the rule is the integer
    /// block mean rounded half up.
    static func binaryFactor(_ source: Int, _ target: Int) -> Int? {
        guard target > 0, source % target == 0 else { return nil }
        let k = source / target
        return k & (k - 1) == 0 ? k : nil
    }

    /// The rule for power-of-two factors, in integers: each derived pixel is
    /// (sum of its ky x kx block + ky kx / 2) / (ky kx), which is the Double rule's value exactly
    /// (about 10x faster; the cascades' 96 -> 48 and 64 -> 32 take this path).
    static func blockMeans(_ clip: ClipFrames, indices: [Int], ky: Int, kx: Int) -> ClipFrames {
        let height = clip.height / ky, width = clip.width / kx
        let inRow = clip.width * 3, n = width * 3, frameIn = clip.height * inRow, frameOut = height * n
        let area = ky * kx
        let sums = UnsafeMutablePointer<Int>.allocate(capacity: n)
        defer { sums.deallocate() }
        let pixels = [UInt8](unsafeUninitializedCapacity: indices.count * frameOut) { dst, count in
            clip.pixels.withUnsafeBufferPointer { src in
                for (f, source) in indices.enumerated() {
                    for y in 0 ..< height {
                        sums.update(repeating: area / 2, count: n)
                        for dy in 0 ..< ky {
                            let line = src.baseAddress! + source * frameIn + (y * ky + dy) * inRow
                            for x in 0 ..< width {
                                let p = line + x * kx * 3
                                var s0 = 0, s1 = 0, s2 = 0
                                for dx in 0 ..< kx {
                                    s0 += Int(p[dx * 3]); s1 += Int(p[dx * 3 + 1]); s2 += Int(p[dx * 3 + 2])
                                }
                                sums[x * 3] += s0; sums[x * 3 + 1] += s1; sums[x * 3 + 2] += s2
                            }
                        }
                        let out = dst.baseAddress! + f * frameOut + y * n
                        for i in 0 ..< n { out[i] = UInt8(sums[i] / area) }
                    }
                }
            }
            count = indices.count * frameOut
        }
        return derived(clip, indices: indices, height: height, width: width, pixels: pixels)
    }

    /// ``boxWeights`` flattened into buffers the filter reads without bounds checks: output j's
    /// taps are `index[t]`, `weight[t]` for t in `taps(j)`, in the same order.
    final class FlatTaps {
        let start: UnsafeMutableBufferPointer<Int>, index: UnsafeMutableBufferPointer<Int>
        let weight: UnsafeMutableBufferPointer<Double>
        init(_ taps: [[(index: Int, weight: Double)]]) {
            let count = taps.reduce(0) { $0 + $1.count }
            start = .allocate(capacity: taps.count + 1)
            index = .allocate(capacity: count)
            weight = .allocate(capacity: count)
            var t = 0
            for (j, list) in taps.enumerated() {
                start[j] = t
                for tap in list { index[t] = tap.index; weight[t] = tap.weight; t += 1 }
            }
            start[taps.count] = t
        }
        deinit { start.deallocate(); index.deallocate(); weight.deallocate() }
        func taps(_ j: Int) -> Range<Int> { start[j] ..< start[j + 1] }
    }

    /// Box-filter taps along one axis of `source` samples shrunk to `target` (`target <= source`):
    /// for each target sample, the source samples under its interval and the fraction of the
    /// interval each covers (the fractions sum to 1).
    static func boxWeights(from source: Int, to target: Int) -> [[(index: Int, weight: Double)]] {
        // Work in units of 1/target of a source sample so interval ends are integers.
        (0 ..< target).map { j in
            let lo = j * source, hi = (j + 1) * source          // [lo, hi) in source * target units
            return stride(from: lo / target, to: (hi + target - 1) / target, by: 1).map { i in
                let overlap = min(hi, (i + 1) * target) - max(lo, i * target)
                return (i, Double(overlap) / Double(source))
            }
        }
    }
}
