import CBLAS

/// OpenBLAS, the only place this module calls it.
///
/// OpenBLAS's thread count is process-wide. Pick it explicitly: with K inference workers on C
/// cores, `BLAS.setThreads(max(1, C / K))` keeps workers x BLAS threads <= cores (OpenBLAS
/// otherwise starts one thread per core for every call and workers oversubscribe the machine).
public enum BLAS {
    /// Sets the number of threads every later BLAS call may use (process-wide).
    public static func setThreads(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// The current process-wide BLAS thread count.
    public static var threads: Int { Int(openblas_get_num_threads()) }

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
