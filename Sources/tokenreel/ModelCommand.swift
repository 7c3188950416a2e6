import ArgumentParser
import Dispatch
import Foundation
import TokenReelModel

/// `tokenreel model ...`: look at a weights file and run it on raw tensors, for checking
/// against references (the Flax reference in training/, or any other).
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect a weights file or run the model on a raw tensor.",
        subcommands: [ModelRunCommand.self, ModelInspectCommand.self]
    )
}

/// Reports a model or input error on stderr and exits with status 2 (configuration error).
func failModel(_ error: Error) -> ExitCode {
    FileHandle.standardError.write(Data("tokenreel: \(error)\n".utf8))
    return ExitCode(2)
}

struct ModelRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the model on a preprocessed float32 .npy clip tensor and write the logits as .npy.",
        discussion: """
        The input is float32 [T,H,W,3] or [B,T,H,W,3], already normalised (see docs/model-format.md); \
        the output is float32 [B,K] logits (B = 1 for a single clip).
        """
    )

    @Option(name: .long, help: "Weights file (.safetensors).")
    var weights: String

    @Option(name: .long, help: "Input clips, float32 .npy, [T,H,W,3] or [B,T,H,W,3].")
    var input: String

    @Option(name: .long, help: "Where to write the logits (.npy, float32 [B,K]).")
    var output: String

    @Option(name: .long, help: "BLAS threads.")
    var threads: Int = 1

    @Option(name: .long, help: "Run the forward pass this many times (for profiling): the first warms up, the median of the others is printed.")
    var `repeat`: Int = 1

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        do {
            let model = try VideoModel.load(contentsOf: URL(fileURLWithPath: weights))
            let clips = try Npy.readFloat32(URL(fileURLWithPath: input))
            try model.checkInput(shape: clips.shape, source: input)
            let workspace = model.makeWorkspace()
            var logits = model.logits(clips, workspace: workspace)
            if `repeat` > 1 {
                var times = [Double]()
                for _ in 1 ..< `repeat` {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    logits = model.logits(clips, workspace: workspace)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                }
                times.sort()
                let median = times[times.count / 2], b = clips.shape.count == 5 ? clips.shape[0] : 1
                FileHandle.standardError.write(Data(String(
                    format: "%d timed runs after a warm-up: median %.4f s = %.2f clips/s, %.1f GFLOP/s\n",
                    times.count, median, Double(b) / median, Double(b * model.flopsPerClip) / median / 1e9).utf8))
            }
            try Npy.write(logits, to: URL(fileURLWithPath: output))
            FileHandle.standardError.write(Data("wrote logits \(logits.shape) to \(output)\n".utf8))
        } catch {
            throw failModel(error)
        }
    }
}

struct ModelInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a weights file's configuration, labels, parameter count and FLOPs per clip."
    )

    @Argument(help: "Weights file (.safetensors).")
    var weights: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let model: VideoModel
        do { model = try VideoModel.load(contentsOf: URL(fileURLWithPath: weights)) } catch { throw failModel(error) }
        let c = model.config
        if json {
            struct Report: Encodable {
                var path: String, sha256: String, config: ModelConfig, labels: [String]
                var normalization: PixelNormalization, parameters: Int, flopsPerClip: Int, tokens: Int
                enum CodingKeys: String, CodingKey {
                    case path, sha256, config, labels, normalization, parameters, tokens
                    case flopsPerClip = "flops_per_clip"
                }
            }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let r = Report(path: weights, sha256: model.sha256, config: c, labels: model.labels, normalization: model.defaultNormalization,
                           parameters: c.parameterCount, flopsPerClip: c.flopsPerClip, tokens: c.inputTokens)
            print(String(decoding: try enc.encode(r), as: UTF8.self))
            return
        }
        let tl: String
        if let t = c.tokenlearner {
            tl = "v\(t.version), S=\(t.numTokens) at layer \(t.loc)\(t.useTokenfuse ? " + TokenFuser" : ""), bottleneck \(t.bottleneckDim)"
        } else {
            tl = "none (plain ViViT)"
        }
        let lines = [
            "file            \(weights)",
            "sha256          \(model.sha256)",
            "input           \(c.numFrames)x\(c.height)x\(c.width)x3, normalisation \(describe(model.defaultNormalization))",
            "tubelet         \(c.tubelet.map(String.init).joined(separator: "x")) (t x h x w) -> \(c.grid.t)x\(c.grid.h)x\(c.grid.w) = \(c.numPatches) tokens",
            "encoder         D=\(c.hiddenSize), \(c.numLayers) layers, \(c.numHeads) heads, MLP \(c.mlpDim), LayerNorm eps \(c.layerNormEpsilon)",
            "tokenlearner    \(tl)",
            "head            \(c.classifier.rawValue)\(c.representationSize.map { ", pre_logits \($0) + tanh" } ?? ""), \(c.numClasses) classes",
            "parameters      \(c.parameterCount.formatted())",
            "FLOPs per clip  \(c.flopsPerClip.formatted()) (\(String(format: "%.3f", Double(c.flopsPerClip) / 1e9)) GFLOP, matrix products)",
            "labels          \(model.labels.joined(separator: ", "))",
        ]
        print(lines.joined(separator: "\n"))
    }

    private func describe(_ n: PixelNormalization) -> String {
        switch n {
        case .zeroCentered: return "zero_centered (x/255*2-1)"
        case .unit: return "unit (x/255)"
        case let .meanStd(mean, std): return "mean_std (x/255-\(mean))/\(std)"
        }
    }
}
