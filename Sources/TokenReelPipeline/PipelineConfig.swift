import Foundation
import TokenReelModel   // SHA256
import Yams

/// A pipeline file (`pipelines/*.yaml`) decoded into typed, validated configuration.
///
/// Every key is documented in docs/pipelines.md. Decoding is strict: an unknown key, a wrong type
/// or a value out of range is a ``PipelineConfigError`` naming the file, the key path (e.g.
/// `sampling.mode`) and what is allowed. Optional keys take the defaults shown on each property.
public struct PipelineConfig: Sendable, Equatable {
    /// `name`: a short identifier written into every result (default: the file's base name).
    public var name: String
    /// `model`: path of the `.safetensors` weights, resolved relative to the pipeline file's
    /// directory when relative. Required, unless the pipeline is a `cascade`: then it is the last
    /// stage's model (the full model, whose input sets the decode geometry's defaults and whose
    /// normalisation `tokenreel export` records).
    public var modelPath: String
    /// `cascade`: early-exit stages (DVT), cheapest first; nil for a plain pipeline. At least
    /// two; every stage but the last has a `threshold`. See ``CascadeStage``.
    public var cascade: [CascadeStage]?
    /// `inputs`: which files the discover stage takes.
    public var inputs: Inputs
    /// `sampling`: which clips of each video are labelled.
    public var sampling: Sampling
    /// `preprocess`: resize, crop and pixel normalisation.
    public var preprocess: Preprocess
    /// `decode`: decoder limits.
    public var decode: Decode
    /// `workers`: parallelism, queue capacity, batching and BLAS threads.
    public var workers: Workers
    /// `output`: what each clip record carries.
    public var output: Output
    /// `model_options`. Default: none.
    public var modelOptions = ModelOptions()

    public struct Inputs: Sendable, Equatable, Codable {
        /// `inputs.extensions`: file extensions (without dot, compared case-insensitively).
        public var extensions: [String] = ["mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "flv", "wmv", "3gp", "ogv",
                                             "m2ts", "mts", "m2v", "vob", "mxf", "y4m", "nut", "dv", "asf", "f4v", "3g2",
                                             "ivf", "gif", "h264", "264", "hevc", "h265", "265", "mjpeg", "mjpg"]
        public init() {}
    }

    /// How a video is cut into clips.
    public enum SamplingMode: String, Sendable, Equatable, Codable, CaseIterable {
        /// One clip whose `frames` targets are spread evenly over the whole video.
        case uniform
        /// Windows of `clip_seconds`, one every `stride_seconds`.
        case sliding
        /// `clips` evenly spaced temporal windows x `spatial_crops` crops (e.g. 4x3 views).
        case multiview
    }

    /// What happens to a last sliding window that would run past the end of the video.
    public enum Tail: String, Sendable, Equatable, Codable, CaseIterable { case drop, shift, pad }

    public struct Sampling: Sendable, Equatable, Codable {
        /// `sampling.mode`: `uniform`, `sliding` or `multiview`. Default `uniform`.
        public var mode: SamplingMode = .uniform
        /// `sampling.frames`: frames per clip (T). Default (absent): the model's input frames.
        /// When given it must equal the model's input frames.
        public var frames: Int?
        /// `sampling.clip_seconds`: window length for `sliding` (required there) and `multiview`
        /// (absent: the video is split into `clips` equal parts).
        public var clipSeconds: Double?
        /// `sampling.stride_seconds`: distance between window starts for `sliding`. Default: clip_seconds.
        public var strideSeconds: Double?
        /// `sampling.tail`: last partial window for `sliding`: `drop`, `shift` (default) or `pad`.
        public var tail: Tail = .shift
        /// `sampling.clips`: temporal views for `multiview`. Default 4.
        public var clips: Int = 4
        /// `sampling.spatial_crops`: spatial views for `multiview`, 1 or 3. Default 3.
        public var spatialCrops: Int = 3
        public init() {}
    }

    public enum Scaling: String, Sendable, Equatable, Codable, CaseIterable { case bilinear, bicubic, area, point, lanczos }

    public enum Normalization: String, Sendable, Equatable, Codable, CaseIterable {
        /// Whatever the model's metadata says (default).
        case model
        /// x/255*2-1
        case zeroCentered = "zero_centered"
        /// x/255
        case unit
        /// (x/255 - mean)/std per channel (`mean`, `std` required).
        case meanStd = "mean_std"
    }

    public enum Resize: String, Sendable, Equatable, Codable, CaseIterable {
        /// Resize the short side to `short_side`, keeping the aspect ratio, then crop (ViViT).
        case shortSideCrop = "short_side_crop"
        /// Resize the whole frame to the crop size, ignoring the aspect ratio: nothing is cut off.
        case stretch
    }

    public struct Preprocess: Sendable, Equatable, Codable {
        /// `preprocess.resize`: `short_side_crop` (default) or `stretch`.
        public var resize: Resize = .shortSideCrop
        /// `preprocess.shuffle_frames`: a temporal control for experiments, not for labelling:
        /// the frames of every clip are put in a fixed pseudo-random order (seeded by the clip's
        /// position), so a model that reads time loses what only the order of frames tells.
        public var shuffleFrames = false
        /// `preprocess.short_side`: the short side is resized to this many pixels before cropping.
        /// Default (absent): the larger crop side, i.e. no margin.
        public var shortSide: Int?
        /// `preprocess.crop`: `[width, height]` of the crop. Default (absent): the model's input size.
        public var crop: [Int]?
        /// `preprocess.interpolate_position_embeddings: true`: `sampling.frames` and
        /// `preprocess.crop` may differ from the model's input; the model's learned position
        /// embedding is resampled to that geometry (`VideoModel.resized`). Stored only when true
        /// (nil otherwise), so the configuration hash of pipelines without it is unchanged.
        public var interpolatePositionEmbeddingsKey: Bool?
        public var interpolatePositionEmbeddings: Bool {
            get { interpolatePositionEmbeddingsKey == true }
            set { interpolatePositionEmbeddingsKey = newValue ? true : nil }
        }
        /// `preprocess.scaling`: resize filter. Default `bilinear`.
        public var scaling: Scaling = .bilinear
        /// `preprocess.normalization`. Default `model`.
        public var normalization: Normalization = .model
        /// `preprocess.mean`, `preprocess.std`: three values each, for `mean_std`.
        public var mean: [Double]?
        public var std: [Double]?
        public init() {}
    }

    public struct Decode: Sendable, Equatable, Codable {
        /// `decode.timeout_seconds`: a file taking longer than this to decode is an error record. Default 60.
        public var timeoutSeconds: Double = 60
        /// `decode.threads`: FFmpeg threads per decode worker. Default 1 (best directory throughput).
        public var threads: Int = 1
        public init() {}
    }

    public struct Workers: Sendable, Equatable, Codable {
        /// `workers.decode`: decode workers (N). Default 1.
        public var decode: Int = 1
        /// `workers.tokenize`: tokenize workers (M). Default 1.
        public var tokenize: Int = 1
        /// `workers.infer`: infer workers (K). Default 1.
        public var infer: Int = 1
        /// `workers.queue_capacity`: clips each inter-stage queue holds before pushing back. Default 8.
        public var queueCapacity: Int = 8
        /// `workers.batch_size`: most clips per inference call, gathered across videos. Default 8.
        public var batchSize: Int = 8
        /// `workers.blas_threads`: OpenBLAS threads per call. Default 1. `tokenreel run` warns when
        /// `blas_threads x (tokenize + infer)` exceeds the machine's cores.
        public var blasThreads: Int = 1
        public init() {}
    }

    /// `model_options`: inference options of the model itself (same weights, other computation).
    public struct ModelOptions: Sendable, Equatable, Codable {
        /// `model_options.token_keeping: {rate, layers}`: SuperViT token keeping
        /// (`VideoModel.withTokenKeeping`). nil (absent): every token is kept.
        public var tokenKeeping: TokenKeepingOption?
        public init() {}
        /// Nothing set: the model runs as stored (and the pipeline hash ignores the section).
        public var isDefault: Bool { tokenKeeping == nil }
        enum CodingKeys: String, CodingKey { case tokenKeeping = "token_keeping" }
    }

    public struct TokenKeepingOption: Sendable, Equatable, Codable {
        /// `rate`: 0 < rate <= 1, the fraction of tokens kept at each layer listed.
        public var rate: Double
        /// `layers`: encoder layer indices (0-based) where tokens are dropped.
        public var layers: [Int]
        public init(rate: Double, layers: [Int]) { self.rate = rate; self.layers = layers }
    }

    /// One stage of a `cascade`: a model, the clip geometry it runs at, and the confidence that
    /// lets a clip stop there.
    public struct CascadeStage: Sendable, Equatable {
        /// `cascade[i].model`: the `.safetensors` weights, relative to the pipeline file's directory.
        public var modelPath: String
        /// `cascade[i].frames`, `.height`, `.width`: the stage's input (absent: the model's own).
        /// Other than the model's, the model's position embedding is resampled to it.
        public var geometry: StageGeometry
        /// `cascade[i].token_keeping`: SuperViT token keeping for this stage, as `model_options.token_keeping`.
        public var tokenKeeping: TokenKeepingOption?
        /// `cascade[i].threshold`: a clip exits here when its top softmax probability is at least
        /// this (0...1). Required on every stage but the last, which has none.
        public var threshold: Double?
        /// `cascade[i].first_frames`: the stage sees only the decoded clip's first N frames (its
        /// own `frames` are taken from them), and a clip that exits at it is never decoded further.
        /// Only on leading stages, all with the same N, with `sampling.mode: uniform`.
        public var firstFrames: Int?

        public init(modelPath: String, geometry: StageGeometry = .init(), tokenKeeping: TokenKeepingOption? = nil, threshold: Double? = nil,
                    firstFrames: Int? = nil) {
            self.modelPath = modelPath; self.geometry = geometry; self.tokenKeeping = tokenKeeping; self.threshold = threshold
            self.firstFrames = firstFrames
        }
    }

    public struct Output: Sendable, Equatable, Codable {
        /// `output.top_k`: entries in each `top_k` list (at most the number of classes). Default 5.
        public var topK: Int = 5
        /// `output.probabilities`: add each clip's full softmax vector. Default false.
        public var probabilities: Bool = false
        /// `output.logits`: add each clip's raw logits. Default false.
        public var logits: Bool = false
        public init() {}
    }

    /// The file this configuration came from (for messages and relative paths), if any.
    public var sourcePath: String?

    public init(name: String, modelPath: String, inputs: Inputs = .init(), sampling: Sampling = .init(),
                preprocess: Preprocess = .init(), decode: Decode = .init(), workers: Workers = .init(),
                output: Output = .init(), sourcePath: String? = nil) {
        self.name = name; self.modelPath = modelPath; self.inputs = inputs; self.sampling = sampling
        self.preprocess = preprocess; self.decode = decode; self.workers = workers; self.output = output
        self.sourcePath = sourcePath
    }

    /// The model file as an absolute URL: relative paths are taken from the pipeline file's directory.
    public var modelURL: URL { url(ofModel: modelPath) }

    /// A model path of this pipeline as an absolute URL: relative paths are taken from the
    /// pipeline file's directory (the current directory when there is no file).
    public func url(ofModel path: String) -> URL {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL }
        let base = sourcePath.map { URL(fileURLWithPath: $0).deletingLastPathComponent() }
            ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        return base.appendingPathComponent(path).standardizedFileURL
    }

    /// A cascade's last stage run alone, as a plain pipeline: the full model whose FLOPs the
    /// cascade saves (its model, token keeping and geometry; everything else as the cascade's).
    /// A plain pipeline is returned as it is.
    public var lastStageAlone: PipelineConfig {
        guard let last = cascade?.last else { return self }
        var c = self
        c.cascade = nil
        c.name = name + "-last-stage"
        c.modelPath = last.modelPath
        c.modelOptions.tokenKeeping = last.tokenKeeping
        if let frames = last.geometry.frames { c.sampling.frames = frames }
        if let height = last.geometry.height, let width = last.geometry.width {
            c.preprocess.crop = [width, height]
            c.preprocess.interpolatePositionEmbeddings = true
        }
        return c
    }

    /// Every model file the pipeline names: the cascade's stages in order, or the one model.
    public var modelURLs: [URL] { cascade.map { $0.map { url(ofModel: $0.modelPath) } } ?? [modelURL] }

    /// A hash of everything that changes results (sampling, preprocessing, decoding, output,
    /// the name, a cascade's geometries, token keeping and thresholds) and nothing that only
    /// changes speed (workers, batch size) or which files are read (`inputs.extensions`: a file's
    /// result does not depend on it, so taking more extensions redoes nothing). Model files are not in it: results carry the
    /// models' SHA-256 beside it, and resume skips a result only when both match. Hex SHA-256,
    /// first 16 characters.
    public var hash: String {
        struct HashedStage: Codable {
            var frames: Int?; var height: Int?; var width: Int?
            var tokenKeeping: TokenKeepingOption?; var threshold: Double?
            /// Only when set (nil is not encoded), so hashes of cascades without it are unchanged.
            var firstFrames: Int?
        }
        struct Hashed: Codable {
            var name: String; var sampling: Sampling; var preprocess: Preprocess
            var decode: Decode; var output: Output
            /// Only when set (nil is not encoded), so hashes of pipelines without them are unchanged.
            var modelOptions: ModelOptions?
            var cascade: [HashedStage]?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let stages = cascade?.map { HashedStage(frames: $0.geometry.frames, height: $0.geometry.height, width: $0.geometry.width,
                                                tokenKeeping: $0.tokenKeeping, threshold: $0.threshold, firstFrames: $0.firstFrames) }
        // Encoding these plain value types cannot fail.
        let data = try! encoder.encode(Hashed(name: name, sampling: sampling, preprocess: preprocess,
                                              decode: decode, output: output,
                                              modelOptions: modelOptions.isDefault ? nil : modelOptions, cascade: stages))
        return String(SHA256.hex(data).prefix(16))
    }
}

/// The clip geometry a model runs at: T frames of H x W pixels; nil sizes are the model's own.
public struct StageGeometry: Sendable, Equatable, Codable {
    public var frames: Int?
    public var height: Int?
    public var width: Int?
    public init(frames: Int? = nil, height: Int? = nil, width: Int? = nil) {
        self.frames = frames; self.height = height; self.width = width
    }
}

/// A pipeline file that cannot be used: names the file, the key and what is allowed.
public struct PipelineConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var key: String
    public var line: Int?
    public var message: String

    public init(file: String, key: String, line: Int?, message: String) {
        self.file = file; self.key = key; self.line = line; self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(location): \(message)" : "\(location): key '\(key)': \(message)"
    }
}

// MARK: - Loading

extension PipelineConfig {
    /// Reads and validates a pipeline file.
    public static func load(path: String) throws -> PipelineConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PipelineConfigError(file: path, key: "", line: nil, message: "cannot read the file (\(error.localizedDescription))")
        }
        let defaultName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(yaml: text, file: path, defaultName: defaultName)
    }

    /// Parses and validates pipeline YAML. `file` is only used in messages and for relative paths.
    public static func parse(yaml: String, file: String, defaultName: String = "pipeline") throws -> PipelineConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw PipelineConfigError(file: file, key: "", line: nil, message: "not valid YAML: \(error)")
        }
        guard let root else {
            throw PipelineConfigError(file: file, key: "", line: nil, message: "the file is empty; it needs at least 'model'")
        }
        let r = ConfigReader(file: file)
        let top = try r.mapping(root, at: "", allowed: ["name", "model", "cascade", "inputs", "sampling", "preprocess", "decode", "workers",
                                                                "output", "model_options"])

        let stages: [CascadeStage]?
        switch (top["model"], top["cascade"]) {
        case (nil, nil):
            throw PipelineConfigError(file: file, key: "model", line: root.mark?.line,
                                      message: "required: the path of the model's .safetensors file (or 'cascade', a list of stages)")
        case (_?, let cascadeNode?):
            throw r.error("cascade", cascadeNode, "'model' and 'cascade' are mutually exclusive: a plain pipeline names one model, a cascade one per stage (cascade[i].model)")
        case (nil, let cascadeNode?):
            stages = try r.cascade(cascadeNode)
        case (_?, nil):
            stages = nil
        }
        let modelPath = try stages?.last!.modelPath ?? r.string(top["model"]!, at: "model")
        var config = PipelineConfig(name: try top["name"].map { try r.string($0, at: "name") } ?? defaultName, modelPath: modelPath)
        config.cascade = stages
        config.sourcePath = file
        if config.name.isEmpty { throw PipelineConfigError(file: file, key: "name", line: top["name"]?.mark?.line, message: "must not be empty") }

        if let node = top["inputs"] {
            let m = try r.mapping(node, at: "inputs", allowed: ["extensions"])
            if let e = m["extensions"] {
                let list = try r.sequence(e, at: "inputs.extensions").map { try r.string($0, at: "inputs.extensions") }
                let cleaned = list.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 }.map { $0.lowercased() }
                if cleaned.isEmpty || cleaned.contains(where: \.isEmpty) {
                    throw r.error("inputs.extensions", e, "needs at least one non-empty extension, e.g. [mp4, mkv]")
                }
                config.inputs.extensions = cleaned
            }
        }

        if let node = top["sampling"] {
            let k = "sampling"
            let m = try r.mapping(node, at: k, allowed: ["mode", "frames", "clip_seconds", "stride_seconds", "tail", "clips", "spatial_crops"])
            var s = Sampling()
            if let v = m["mode"] { s.mode = try r.choice(v, at: "\(k).mode") }
            if let v = m["frames"] { s.frames = try r.int(v, at: "\(k).frames", range: 1...1024) }
            if let v = m["clip_seconds"] { s.clipSeconds = try r.double(v, at: "\(k).clip_seconds", above: 0) }
            if let v = m["stride_seconds"] { s.strideSeconds = try r.double(v, at: "\(k).stride_seconds", above: 0) }
            if let v = m["tail"] { s.tail = try r.choice(v, at: "\(k).tail") }
            if let v = m["clips"] { s.clips = try r.int(v, at: "\(k).clips", range: 1...64) }
            if let v = m["spatial_crops"] {
                s.spatialCrops = try r.int(v, at: "\(k).spatial_crops", range: 1...3)
                if s.spatialCrops == 2 { throw r.error("\(k).spatial_crops", v, "must be 1 or 3 (allowed: 1, 3)") }
            }
            // Keys that only mean something in another mode are errors, not silently ignored.
            let modeKeys: [SamplingMode: Set<String>] = [
                .uniform: ["mode", "frames"],
                .sliding: ["mode", "frames", "clip_seconds", "stride_seconds", "tail"],
                .multiview: ["mode", "frames", "clip_seconds", "clips", "spatial_crops"],
            ]
            for (keyNode, _) in m.pairs where !modeKeys[s.mode]!.contains(keyNode) {
                throw r.error("\(k).\(keyNode)", m[keyNode]!, "is not used by mode '\(s.mode.rawValue)' (keys for this mode: \(modeKeys[s.mode]!.sorted().joined(separator: ", ")))")
            }
            if s.mode == .sliding && s.clipSeconds == nil {
                throw r.error("\(k).clip_seconds", node, "required when mode is 'sliding' (seconds, > 0)")
            }
            config.sampling = s
        }

        if let node = top["preprocess"] {
            let k = "preprocess"
            let m = try r.mapping(node, at: k, allowed: ["resize", "short_side", "crop", "scaling", "normalization", "mean", "std", "shuffle_frames",
                                                             "interpolate_position_embeddings"])
            var p = Preprocess()
            if let v = m["resize"] { p.resize = try r.choice(v, at: "\(k).resize") }
            if let v = m["shuffle_frames"] { p.shuffleFrames = try r.bool(v, at: "\(k).shuffle_frames") }
            if let v = m["interpolate_position_embeddings"] {
                p.interpolatePositionEmbeddings = try r.bool(v, at: "\(k).interpolate_position_embeddings")
            }
            if p.resize == .stretch, let v = m["short_side"] {
                throw r.error("\(k).short_side", v, "not used when resize is 'stretch' (the whole frame is resized to the crop)")
            }
            if let v = m["short_side"] { p.shortSide = try r.int(v, at: "\(k).short_side", range: 8...8192) }
            if let v = m["crop"] {
                let c = try r.sequence(v, at: "\(k).crop").map { try r.int($0, at: "\(k).crop", range: 8...8192) }
                guard c.count == 2 else { throw r.error("\(k).crop", v, "must be [width, height], e.g. [224, 224]") }
                p.crop = c
            }
            if let v = m["scaling"] { p.scaling = try r.choice(v, at: "\(k).scaling") }
            if let v = m["normalization"] { p.normalization = try r.choice(v, at: "\(k).normalization") }
            for key in ["mean", "std"] {
                guard let v = m[key] else { continue }
                let values = try r.sequence(v, at: "\(k).\(key)").map { try r.double($0, at: "\(k).\(key)", above: key == "std" ? 0 : -.infinity) }
                guard values.count == 3 else { throw r.error("\(k).\(key)", v, "must be three numbers (R, G, B)") }
                if key == "mean" { p.mean = values } else { p.std = values }
            }
            if p.normalization == .meanStd && (p.mean == nil || p.std == nil) {
                throw r.error("\(k).normalization", m["normalization"]!, "'mean_std' needs preprocess.mean and preprocess.std (three numbers each)")
            }
            if p.normalization != .meanStd, let key = ["mean", "std"].first(where: { m[$0] != nil }) {
                throw r.error("\(k).\(key)", m[key]!, "only used when normalization is 'mean_std'")
            }
            if let short = p.shortSide, let crop = p.crop, short < min(crop[0], crop[1]) {
                throw r.error("\(k).short_side", m["short_side"]!, "must be at least the crop's shorter side (\(min(crop[0], crop[1])))")
            }
            if p.resize == .stretch, config.sampling.mode == .multiview, config.sampling.spatialCrops > 1 {
                throw r.error("\(k).resize", m["resize"]!, "'stretch' leaves nothing to crop: set sampling.spatial_crops to 1")
            }
            config.preprocess = p
        }

        if let node = top["decode"] {
            let m = try r.mapping(node, at: "decode", allowed: ["timeout_seconds", "threads"])
            if let v = m["timeout_seconds"] { config.decode.timeoutSeconds = try r.double(v, at: "decode.timeout_seconds", above: 0) }
            if let v = m["threads"] { config.decode.threads = try r.int(v, at: "decode.threads", range: 1...64) }
        }

        if let node = top["workers"] {
            let k = "workers"
            let m = try r.mapping(node, at: k, allowed: ["decode", "tokenize", "infer", "queue_capacity", "batch_size", "blas_threads"])
            var w = Workers()
            if let v = m["decode"] { w.decode = try r.int(v, at: "\(k).decode", range: 1...256) }
            if let v = m["tokenize"] { w.tokenize = try r.int(v, at: "\(k).tokenize", range: 1...256) }
            if let v = m["infer"] { w.infer = try r.int(v, at: "\(k).infer", range: 1...256) }
            if let v = m["queue_capacity"] { w.queueCapacity = try r.int(v, at: "\(k).queue_capacity", range: 1...4096) }
            if let v = m["batch_size"] { w.batchSize = try r.int(v, at: "\(k).batch_size", range: 1...1024) }
            if let v = m["blas_threads"] { w.blasThreads = try r.int(v, at: "\(k).blas_threads", range: 1...256) }
            config.workers = w
        }

        if let node = top["model_options"] {
            let m = try r.mapping(node, at: "model_options", allowed: ["token_keeping"])
            if let node = m["token_keeping"] {
                config.modelOptions.tokenKeeping = try r.tokenKeeping(node, at: "model_options.token_keeping")
            }
        }

        // A cascade sets each stage's geometry and model options on the stage itself.
        if stages != nil {
            let perStage: [(section: String, key: String, instead: String)] = [
                ("sampling", "frames", "cascade[i].frames"), ("preprocess", "crop", "cascade[i].height and .width"),
                ("preprocess", "interpolate_position_embeddings", "a stage's frames, height and width (the model is resized to them)"),
                ("", "model_options", "cascade[i].token_keeping"),
            ]
            for (section, key, instead) in perStage {
                let node = section.isEmpty ? top[key] : top[section].flatMap { r.entry($0, key) }
                if let node {
                    throw r.error(section.isEmpty ? key : "\(section).\(key)", node, "not used with 'cascade': set \(instead)")
                }
            }
        }

        // A cascade that decodes the start of the clip first takes one clip per video.
        if let stages, let cascadeNode = top["cascade"], stages.contains(where: { $0.firstFrames != nil }) {
            if config.sampling.mode != .uniform {
                throw r.error("sampling.mode", top["sampling"].flatMap { r.entry($0, "mode") } ?? cascadeNode,
                              "'\(config.sampling.mode.rawValue)' gives several clips per video, but a cascade with first_frames decodes one clip in two parts: use 'uniform'")
            }
        }

        if let node = top["output"] {
            let m = try r.mapping(node, at: "output", allowed: ["top_k", "probabilities", "logits"])
            if let v = m["top_k"] { config.output.topK = try r.int(v, at: "output.top_k", range: 1...1000) }
            if let v = m["probabilities"] { config.output.probabilities = try r.bool(v, at: "output.probabilities") }
            if let v = m["logits"] { config.output.logits = try r.bool(v, at: "output.logits") }
        }
        return config
    }
}

/// Typed, strict access to a composed YAML tree; every failure names file, key and line.
private struct ConfigReader {
    let file: String

    /// A mapping's entries by key, in file order.
    struct Entries {
        var pairs: [(String, Node)]
        subscript(key: String) -> Node? { pairs.first { $0.0 == key }?.1 }
    }

    func error(_ key: String, _ node: Node, _ message: String) -> PipelineConfigError {
        PipelineConfigError(file: file, key: key, line: node.mark?.line, message: message)
    }

    func mapping(_ node: Node, at key: String, allowed: [String]) throws -> Entries {
        guard case let .mapping(m) = node else {
            throw error(key, node, "must be a mapping with keys: \(allowed.joined(separator: ", "))")
        }
        var entries = Entries(pairs: [])
        for (k, v) in m {
            guard let name = k.scalar?.string else { throw error(key, k, "keys must be plain strings") }
            let path = key.isEmpty ? name : "\(key).\(name)"
            guard allowed.contains(name) else {
                throw error(path, k, "unknown key (allowed\(key.isEmpty ? "" : " in '\(key)'"): \(allowed.joined(separator: ", ")))")
            }
            guard entries[name] == nil else { throw error(path, k, "appears twice") }
            entries.pairs.append((name, v))
        }
        return entries
    }

    /// The value of `key` in `node` when it is a mapping that has it (already checked by `mapping`).
    func entry(_ node: Node, _ key: String) -> Node? {
        guard case let .mapping(m) = node else { return nil }
        return m.first { $0.key.scalar?.string == key }?.value
    }

    func sequence(_ node: Node, at key: String) throws -> [Node] {
        guard case let .sequence(s) = node else { throw error(key, node, "must be a list, e.g. [a, b]") }
        return Array(s)
    }

    func scalar(_ node: Node, at key: String, expected: String) throws -> Node.Scalar {
        guard case let .scalar(s) = node else { throw error(key, node, "must be \(expected)") }
        return s
    }

    func string(_ node: Node, at key: String) throws -> String {
        let s = try scalar(node, at: key, expected: "a string")
        return s.string
    }

    func int(_ node: Node, at key: String, range: ClosedRange<Int>) throws -> Int {
        let s = try scalar(node, at: key, expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
        guard let v = Int(s.string), range.contains(v) else {
            throw error(key, node, "'\(s.string)' is not an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    func double(_ node: Node, at key: String, above lower: Double) throws -> Double {
        let bound = lower == -.infinity ? "a number" : "a number > \(lower)"
        let s = try scalar(node, at: key, expected: bound)
        guard let v = Double(s.string), v.isFinite, v > lower else {
            throw error(key, node, "'\(s.string)' is not \(bound)")
        }
        return v
    }

    func bool(_ node: Node, at key: String) throws -> Bool {
        let s = try scalar(node, at: key, expected: "true or false")
        switch s.string { case "true": return true; case "false": return false
        default: throw error(key, node, "'\(s.string)' is not a boolean (allowed: true, false)") }
    }

    /// `{rate, layers}` of `model_options.token_keeping` or a cascade stage's `token_keeping`.
    func tokenKeeping(_ node: Node, at k: String) throws -> PipelineConfig.TokenKeepingOption {
        let t = try mapping(node, at: k, allowed: ["rate", "layers"])
        guard let rateNode = t["rate"] else { throw error("\(k).rate", node, "required: the fraction of tokens kept, 0 < rate <= 1 (1 = off)") }
        guard let layersNode = t["layers"] else { throw error("\(k).layers", node, "required: encoder layer indices (0-based), e.g. [3, 6, 9]") }
        let rate = try double(rateNode, at: "\(k).rate", above: 0)
        if rate > 1 { throw error("\(k).rate", rateNode, "'\(rate)' is not in 0 < rate <= 1 (1 = off)") }
        let layers = try sequence(layersNode, at: "\(k).layers").map { try int($0, at: "\(k).layers", range: 0...1023) }
        if layers.isEmpty { throw error("\(k).layers", layersNode, "needs at least one layer index, e.g. [3, 6, 9]") }
        if Set(layers).count != layers.count { throw error("\(k).layers", layersNode, "\(layers) repeats a layer") }
        return .init(rate: rate, layers: layers)
    }

    /// The `cascade` list: two to eight stages, a threshold on each but the last.
    func cascade(_ node: Node) throws -> [PipelineConfig.CascadeStage] {
        let items = try sequence(node, at: "cascade")
        guard (2...8).contains(items.count) else {
            throw error("cascade", node, "needs 2 to 8 stages, cheapest first (got \(items.count)); for one model use 'model'")
        }
        var firstFramesSeen: Int?   // first_frames of the stages so far, while they all have it
        return try items.enumerated().map { (i, item) in
            let k = "cascade[\(i)]"
            let m = try mapping(item, at: k, allowed: ["model", "frames", "height", "width", "token_keeping", "threshold", "first_frames"])
            guard let modelNode = m["model"] else { throw error("\(k).model", item, "required: the path of this stage's .safetensors file") }
            var stage = PipelineConfig.CascadeStage(modelPath: try string(modelNode, at: "\(k).model"))
            if stage.modelPath.isEmpty { throw error("\(k).model", modelNode, "must not be empty") }
            if let v = m["frames"] { stage.geometry.frames = try int(v, at: "\(k).frames", range: 1...1024) }
            if let v = m["height"] { stage.geometry.height = try int(v, at: "\(k).height", range: 8...8192) }
            if let v = m["width"] { stage.geometry.width = try int(v, at: "\(k).width", range: 8...8192) }
            if let v = m["token_keeping"] { stage.tokenKeeping = try tokenKeeping(v, at: "\(k).token_keeping") }
            let last = i == items.count - 1
            if let v = m["first_frames"] {
                let n = try int(v, at: "\(k).first_frames", range: 1...1024)
                if last { throw error("\(k).first_frames", v, "not used on the last stage: it sees the whole clip") }
                if i > 0, firstFramesSeen != n {
                    throw error("\(k).first_frames", v, firstFramesSeen == nil
                                ? "only the first stages may see the start of the clip: cascade[\(i - 1)] sees all of it"
                                : "\(n) differs from the earlier stages' \(firstFramesSeen!): the clip is decoded in two parts, so every stage with first_frames sees the same start")
                }
                stage.firstFrames = n
            }
            if i == 0 || firstFramesSeen != nil { firstFramesSeen = stage.firstFrames }
            switch (m["threshold"], last) {
            case (nil, false):
                throw error("\(k).threshold", item, "required on every stage but the last: the top softmax probability (0...1) at which a clip stops here")
            case (let v?, true):
                throw error("\(k).threshold", v, "not used on the last stage: every clip that reaches it stops there")
            case (let v?, false):
                let s = try scalar(v, at: "\(k).threshold", expected: "a number in 0...1")
                guard let t = Double(s.string), (0...1).contains(t) else { throw error("\(k).threshold", v, "'\(s.string)' is not a number in 0...1") }
                stage.threshold = t
            case (nil, true):
                break
            }
            return stage
        }
    }

    func choice<E: RawRepresentable & CaseIterable>(_ node: Node, at key: String) throws -> E where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        let s = try scalar(node, at: key, expected: "one of: \(allowed)")
        guard let v = E(rawValue: s.string) else { throw error(key, node, "'\(s.string)' is not allowed (allowed: \(allowed))") }
        return v
    }
}
