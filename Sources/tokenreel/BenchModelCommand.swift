import ArgumentParser
import Dispatch
import Foundation
import TokenReelModel

/// `tokenreel bench model`: the Swift forward pass beside JAX/XLA (the Flax reference, jitted)
/// on the same random weights, in the same run, plus this machine's best dense-product rate, from
/// OpenBLAS's sgemm and from TokenReel's packed kernels (the model's weight products run on the
/// latter where their AVX-512 build runs; the "% of best product rate" column is against the
/// faster of the two).
///
/// The JAX peer (Benchmarks/model/jax_peer.py) writes each config's weights; Swift loads that
/// file, so both run the very same model. JAX and Swift runs alternate (one each per round), so
/// both see the same machine load; medians over the rounds are reported. A TokenLearner config
/// and its plain twin (S and S0, M and M0, B and B0) share their rounds, so the TokenLearner
/// speed-up is measured under one load too.
struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Swift forward pass vs JAX on the CPU: clips/s, GFLOP/s, ratios, and the sgemm rate for scale.",
        discussion: """
        Configs: S 16x64x64 tubelet 2x8x8 D96 L6 H3 MLP384 TL S=8@2; M 16x112x112 2x16x16 D192 L12 H3 MLP768 TL S=8@4; \
        B 32x224x224 2x16x16 D768 L12 H12 MLP3072 TL S=8@4 (batch 1 only); S0, M0, B0 the same without TokenLearner.
        """
    )

    @Option(name: .long, help: "Comma-separated configs among S,S0,M,M0,B,B0.")
    var configs = "S,S0,M,M0,B,B0"

    @Option(name: .long, help: "Comma-separated batch sizes (B and B0 always run at batch 1).")
    var batches = "1,8"

    @Option(name: .long, help: "BLAS threads for Swift (JAX uses every core).")
    var threads = 2

    @Option(name: .long, help: "Minimum timed runs per measurement.")
    var repeats = 5

    @Option(name: .long, help: "Python with the pinned training/requirements.txt (JAX peer).")
    var python = ".venv/bin/python"

    @Option(name: .long, help: "The JAX peer script (run from the repository root by default).")
    var peer = "Benchmarks/model/jax_peer.py"

    @Option(name: .long, help: "Directory for the benchmark weights (B is 356 MB).")
    var workDir = FileManager.default.temporaryDirectory.appendingPathComponent("tokenreel-bench-model").path

    func validate() throws {
        let known: Set = ["S", "S0", "M", "M0", "B", "B0"]
        for c in configs.split(separator: ",") where !known.contains(String(c)) {
            throw ValidationError("unknown config '\(c)' in --configs (known: S,S0,M,M0,B,B0)")
        }
        guard threads >= 1, repeats >= 1 else { throw ValidationError("--threads and --repeats must be at least 1") }
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ValidationError("--python \(python) is not executable (make setup-python creates .venv)")
        }
        guard FileManager.default.fileExists(atPath: peer) else {
            throw ValidationError("--peer \(peer) not found (run from the repository root)")
        }
    }

    func run() throws {
        BLAS.setThreads(threads)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let sizes = batches.split(separator: ",").compactMap { Int($0) }
        var rows = [(name: String, batch: Int, swift: Double, jax: Double, flops: Int, tokens: Int)]()
        let rateShapes = [(3136, 3072, 768), (3136, 768, 3072), (1024, 1024, 1024), (3136, 576, 192), (392, 768, 192), (256, 392, 64), (256, 64, 392), (512, 288, 96)]
        var sgemm = 0.0, packed = 0.0
        for (m, n, k) in rateShapes {
            let r1 = BLAS.sgemmRate(m: m, n: n, k: k, threads: 1), rt = BLAS.sgemmRate(m: m, n: n, k: k, threads: threads)
            let p1 = PackedGEMM.rate(m: m, n: n, k: k, threads: 1), pt = PackedGEMM.rate(m: m, n: n, k: k, threads: threads)
            sgemm = max(sgemm, rt)
            packed = max(packed, pt)
            log(String(format: "%dx%dx%d: OpenBLAS sgemm %.1f GFLOP/s on 1 thread, %.1f on %d; packed kernels %.1f and %.1f", m, n, k, r1, rt, threads, p1, pt))
        }
        log(String(format: "OpenBLAS sgemm, %d thread(s): best %.1f GFLOP/s over %d shapes (%@ kernels); packed kernels %.1f", threads, sgemm, rateShapes.count, BLAS.coreName, packed))
        log("weight products on \(PackedGEMM.path)")
        let bestRate = max(sgemm, packed)

        // A TokenLearner config and its plain twin (M and M0) are measured together: both peers
        // and both models loaded, and every round runs JAX then Swift on each, so the TokenLearner
        // speed-up compares runs made under the same machine load, as Swift / JAX does.
        let names = configs.split(separator: ",").map(String.init)
        var groups = [[String]]()
        for name in names where !groups.contains(where: { $0.contains(name) }) {
            let twin = name.hasSuffix("0") ? String(name.dropLast()) : name + "0"
            groups.append(names.contains(twin) ? [name, twin] : [name])
        }
        for group in groups {
            let bs = group[0].hasPrefix("B") ? [1] : sizes
            let rounds = group[0].hasPrefix("B") ? min(repeats, 5) : repeats
            var members = [(name: String, jax: Peer, model: VideoModel, ws: ModelWorkspace)]()
            defer { for m in members { m.jax.stop() } }
            for name in group {
                let weights = workDir + "/\(name).safetensors"
                log("\(name): starting the JAX peer (writes \(weights), compiles)")
                let jax = try Peer(python: python, script: peer, ["--config", name, "--weights", weights, "--batches", bs.map(String.init).joined(separator: ",")])
                let model: VideoModel
                do { model = try VideoModel.load(contentsOf: URL(fileURLWithPath: weights)) } catch { jax.stop(); throw error }
                members.append((name, jax, model, model.makeWorkspace()))
            }
            for b in bs {
                let inputs = members.map { m -> Tensor in
                    let c = m.model.config
                    var data = [Float](repeating: 0, count: b * c.numFrames * c.height * c.width * 3)
                    var state: UInt32 = 12345
                    for i in data.indices { state = state &* 1_664_525 &+ 1_013_904_223; data[i] = Float(state >> 8) / Float(1 << 24) * 2 - 1 }
                    let clips = Tensor(shape: [b, c.numFrames, c.height, c.width, 3], data: data)
                    _ = m.model.logits(clips, workspace: m.ws)     // warm-up (workspace allocation)
                    return clips
                }
                var swiftTimes = Array(repeating: [Double](), count: members.count), jaxTimes = swiftTimes
                while swiftTimes[0].count < rounds || (swiftTimes[0].reduce(0, +) < 1 && swiftTimes[0].count < 200) {
                    for (i, m) in members.enumerated() {
                        jaxTimes[i].append(try m.jax.time(batch: b))
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        _ = m.model.logits(inputs[i], workspace: m.ws)
                        swiftTimes[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                    }
                }
                for (i, m) in members.enumerated() {
                    let (sm, jm) = (median(swiftTimes[i]), median(jaxTimes[i]))
                    rows.append((m.name, b, sm, jm, m.model.flopsPerClip, m.model.config.numPatches))
                    log(String(format: "%@ batch %d: Swift %.4f s, JAX %.4f s (medians of %d alternating rounds%@)", m.name, b, sm, jm,
                               swiftTimes[i].count, members.count > 1 ? ", alternating with " + group.filter { $0 != m.name }.joined() : ""))
                }
            }
        }

        print(String(format: "Best product rate (%d threads): OpenBLAS sgemm %.1f GFLOP/s (%@ kernels), packed kernels %.1f GFLOP/s (%@)",
                     threads, sgemm, BLAS.coreName, packed, PackedGEMM.isa))
        print("Swift weight products on \(PackedGEMM.path)")
        print("| config | tokens | GFLOP/clip | batch | Swift clips/s | Swift GFLOP/s | JAX clips/s | JAX GFLOP/s | Swift/JAX | Swift % of best product rate |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows {
            let g = Double(r.flops) / 1e9
            let sc = Double(r.batch) / r.swift, jc = Double(r.batch) / r.jax
            print(String(format: "| %@ | %d | %.3f | %d | %.2f | %.1f | %.2f | %.1f | %.2fx | %.0f%% |",
                         r.name, r.tokens, g, r.batch, sc, sc * g, jc, jc * g, sc / jc, 100 * sc * g / bestRate))
        }
        func best(_ n: String, _ swift: Bool) -> Double? {
            rows.filter { $0.name == n }.map { Double($0.batch) / (swift ? $0.swift : $0.jax) }.max()
        }
        for n in ["S", "S0", "M", "M0", "B", "B0"] {
            if let s = best(n, true), let j = best(n, false) {
                print(String(format: "%@: best batch Swift %.2f clips/s vs JAX %.2f clips/s = %.2fx", n, s, j, s / j))
            }
        }
        for (tl, plain) in [("S", "S0"), ("M", "M0"), ("B", "B0")] {
            if let a = best(tl, true), let b = best(plain, true), let ja = best(tl, false), let jb = best(plain, false) {
                print(String(format: "TokenLearner speed-up %@0/%@: Swift %.2fx, JAX %.2fx", tl, tl, a / b, ja / jb))
            }
        }
    }

    private func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    private func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// The JAX peer process: started once per config, asked for one timed run at a time.
final class Peer {
    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var buffer = Data()
    private let command: String

    init(python: String, script: String, _ args: [String]) throws {
        command = ([python, script] + args).joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + args
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        guard try readLine() == "ready" else { throw ValidationError("JAX peer did not start: \(command)") }
    }

    /// Wall time in seconds of one JAX forward pass on `batch` clips.
    func time(batch: Int) throws -> Double {
        input.fileHandleForWriting.write(Data("\(batch)\n".utf8))
        guard let line = try readLine(), let t = Double(line) else { throw ValidationError("JAX peer gave no time: \(command)") }
        return t
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    private func readLine() throws -> String? {
        while true {
            if let i = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex ..< i], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex ... i)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw ValidationError("JAX peer exited: \(command)") }
            buffer.append(chunk)
        }
    }
}
