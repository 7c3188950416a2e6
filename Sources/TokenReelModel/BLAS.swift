import CBLAS
import Dispatch
import Foundation

/// OpenBLAS, the only place this module calls it, and the model's thread count.
///
/// Threads are explicit. `setThreads(n)` sets how many threads one forward pass uses: the model
/// splits every step by rows (tokens, query rows, temporal slices) over n threads, each calling
/// OpenBLAS single-threaded. OpenBLAS's own threading is switched off because it busy-waits
/// and synchronises inside every call, which costs more than it gives on the small products of
/// these models and collapses when the machine is busy. With K inference workers on C cores,
/// `BLAS.setThreads(max(1, C / K))` keeps workers x threads <= cores.
public enum BLAS {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var configured = 1

    /// Sets the number of threads each later forward pass uses (process-wide, default 1).
    public static func setThreads(_ n: Int) {
        lock.lock()
        configured = max(1, n)
        lock.unlock()
        openblas_set_num_threads(1)
    }

    /// The kernel family OpenBLAS runs in this process (`openblas_get_corename`: its own choice
    /// for the CPU, e.g. "Cooperlake", or the one `OPENBLAS_CORETYPE` names, e.g. "Haswell").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Threads per forward pass, as set by `setThreads` (default 1).
    public static var threads: Int {
        lock.lock()
        defer { lock.unlock() }
        return configured
    }

    /// Runs `body(part, start, end)` for up to `parts` contiguous shares of 0..<count, in
    /// parallel when there is more than one share. Shares differ by at most one element and hold
    /// at least `minimum` elements: handing a thread less work costs more than it saves.
    static func parallel(_ count: Int, parts: Int, minimum: Int = 1, _ body: (Int, Int, Int) -> Void) {
        let parts = max(1, min(parts, count / max(1, minimum)))
        if parts == 1 { body(0, 0, count); return }
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            body(i, count * i / parts, count * (i + 1) / parts)
        }
    }

    /// C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, all row-major with leading
    /// dimensions `lda`, `ldb`, `ldc` (elements between consecutive rows).
    @inline(__always)
    static func gemm(
        _ m: Int, _ n: Int, _ k: Int,
        _ a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
        _ b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
        _ c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension BLAS {
    /// Times `C = A B` for row-major A [m, k], B [k, n] with OpenBLAS's own threading on
    /// `threads` threads and returns the best rate over `repeats` runs, in GFLOP/s (2mnk per
    /// product). For benchmarks: the machine's dense-product speed, for scale.
    public static func sgemmRate(m: Int, n: Int, k: Int, threads: Int, repeats: Int = 5) -> Double {
        openblas_set_num_threads(Int32(threads))
        defer { openblas_set_num_threads(1) }
        let (a, b, c) = rateOperands(m: m, n: n, k: k)
        return bestRate(m: m, n: n, k: k, repeats: repeats) {
            gemm(m, n, k, a.pointer, lda: k, b.pointer, ldb: n, c.pointer, ldc: n)
        }
    }

    /// A [m, k], B [k, n] and C [m, n] for a rate measurement (small repeating values).
    static func rateOperands(m: Int, n: Int, k: Int) -> (FloatBuffer, FloatBuffer, FloatBuffer) {
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n), c = FloatBuffer(count: m * n)
        for i in 0 ..< m * k { a.pointer[i] = Float(i % 7) * 0.1 }
        for i in 0 ..< k * n { b.pointer[i] = Float(i % 5) * 0.1 }
        return (a, b, c)
    }

    /// The best rate of `product` (an m x n x k product, 2mnk FLOPs) over `repeats` timed runs
    /// after one warm-up, in GFLOP/s.
    static func bestRate(m: Int, n: Int, k: Int, repeats: Int, _ product: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0 ... repeats {   // the first run warms up
            let t0 = DispatchTime.now().uptimeNanoseconds
            product()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return 2 * Double(m) * Double(n) * Double(k) / best / 1e9
    }
}
