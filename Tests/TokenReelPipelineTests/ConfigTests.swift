import XCTest
import TokenReelModel
@testable import TokenReelPipeline

final class ConfigTests: XCTestCase {
    func testShippedPipelinesLoad() throws {
        let dir = TestPaths.repositoryRoot.appendingPathComponent("pipelines")
        let models = TestPaths.repositoryRoot.appendingPathComponent("models")
        let d = try PipelineConfig.load(path: dir.appendingPathComponent("default.yaml").path)
        XCTAssertEqual(d.name, "default")
        XCTAssertEqual(d.sampling.mode, .uniform)
        let hires = models.appendingPathComponent("motion10-tlvivit-s16x96.safetensors")
        XCTAssertEqual(d.cascade?.count, 2, "the default is the cascade on the 96 x 96 model")
        XCTAssertEqual(d.modelURLs.map(\.path), [hires.path, hires.path])
        XCTAssertEqual(d.modelURL.path, hires.path, "the full model is the last stage's")
        let l = try PipelineConfig.load(path: dir.appendingPathComponent("lowres.yaml").path)
        XCTAssertEqual(l.modelURL.path, models.appendingPathComponent("motion10-tlvivit-s16x64.safetensors").path)
        let s = try PipelineConfig.load(path: dir.appendingPathComponent("sliding.yaml").path)
        XCTAssertEqual(s.sampling.mode, .sliding)
        XCTAssertEqual(s.sampling.clipSeconds, 2.0)
        XCTAssertEqual(s.sampling.strideSeconds, 2.0)
        XCTAssertEqual(s.modelURLs.map(\.path), [hires.path, hires.path], "windows go through the default's cascade")
        XCTAssertEqual(s.lastStageAlone.preprocess, d.lastStageAlone.preprocess)
        let m = try PipelineConfig.load(path: dir.appendingPathComponent("multiview.yaml").path)
        XCTAssertEqual(m.sampling.mode, .multiview)
        XCTAssertEqual(m.sampling.clips, 4)
        XCTAssertEqual(m.sampling.spatialCrops, 3)
        let c = try PipelineConfig.load(path: dir.appendingPathComponent("cascade.yaml").path)
        XCTAssertEqual(c.cascade?.count, 2)
        XCTAssertEqual(c.modelURLs, [l.modelURL, l.modelURL])
        XCTAssertEqual(Set([d.hash, l.hash, s.hash, m.hash, c.hash]).count, 5)
        // Every pipeline shipped loads (a new file must not be forgotten here).
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".yaml") {
            XCTAssertNoThrow(try PipelineConfig.load(path: dir.appendingPathComponent(name).path), name)
        }
    }

    func testDefaultsWhenOnlyModelIsGiven() throws {
        let c = try PipelineConfig.parse(yaml: "model: m.safetensors\n", file: "/p/x.yaml", defaultName: "x")
        XCTAssertEqual(c.name, "x")
        XCTAssertEqual(c.workers, .init())
        XCTAssertEqual(c.output.topK, 5)
        XCTAssertEqual(c.modelURL.path, "/p/m.safetensors")
    }

    func testUnknownKeysNameFileKeyAndAllowedKeys() {
        expectError("model: m\nmodle: x\n", key: "modle", containing: ["unknown key", "allowed", "sampling", ":2"])
        expectError("model: m\nworkers:\n  decoders: 2\n", key: "workers.decoders", containing: ["unknown key", "queue_capacity", "blas_threads"])
    }

    func testBadValuesNameAllowedValues() {
        expectError("model: m\nsampling:\n  mode: random\n", key: "sampling.mode", containing: ["'random'", "uniform, sliding, multiview"])
        expectError("model: m\nworkers:\n  decode: 0\n", key: "workers.decode", containing: ["1...256"])
        expectError("model: m\nworkers:\n  decode: two\n", key: "workers.decode", containing: ["'two'"])
        expectError("model: m\noutput:\n  logits: yes please\n", key: "output.logits", containing: ["true, false"])
        expectError("model: m\npreprocess:\n  scaling: nearest\n", key: "preprocess.scaling", containing: ["bilinear, bicubic, area, point, lanczos"])
        expectError("model: m\nsampling:\n  mode: multiview\n  spatial_crops: 2\n", key: "sampling.spatial_crops", containing: ["1, 3"])
        expectError("model: m\npreprocess:\n  crop: [224]\n", key: "preprocess.crop", containing: ["[width, height]"])
        expectError("model: m\nsampling:\n  mode: sliding\n  clip_seconds: -1\n", key: "sampling.clip_seconds", containing: ["> 0"])
    }

    func testResizeAndShuffleKeys() throws {
        let c = try PipelineConfig.parse(yaml: "model: m\npreprocess:\n  resize: stretch\n  shuffle_frames: true\n", file: "p.yaml")
        XCTAssertEqual(c.preprocess.resize, .stretch)
        XCTAssertTrue(c.preprocess.shuffleFrames)
        let plain = try PipelineConfig.parse(yaml: "model: m\n", file: "p.yaml")
        XCTAssertEqual(plain.preprocess.resize, .shortSideCrop)
        var shuffled = plain
        shuffled.preprocess.shuffleFrames = true
        XCTAssertNotEqual(plain.hash, shuffled.hash, "shuffling changes results, so it changes the hash")
        expectError("model: m\npreprocess:\n  resize: squash\n", key: "preprocess.resize", containing: ["short_side_crop, stretch"])
        expectError("model: m\npreprocess:\n  resize: stretch\n  short_side: 80\n", key: "preprocess.short_side", containing: ["not used"])
        expectError("model: m\nsampling:\n  mode: multiview\npreprocess:\n  resize: stretch\n", key: "preprocess.resize", containing: ["spatial_crops to 1"])
    }

    /// The 64 x 64 model was trained on clips exported through training/motion10-export.yaml;
    /// pipelines/lowres.yaml must feed it the same pixels.
    func testLowresPipelinePreprocessesAsTheTrainingExport() throws {
        let d = try PipelineConfig.load(path: TestPaths.repositoryRoot.appendingPathComponent("pipelines/lowres.yaml").path)
        let t = try PipelineConfig.load(path: TestPaths.repositoryRoot.appendingPathComponent("training/motion10-export.yaml").path)
        XCTAssertEqual(d.sampling, t.sampling)
        XCTAssertEqual(d.preprocess, t.preprocess)
        XCTAssertEqual(d.decode, t.decode)
    }

    /// The high-resolution model was fine-tuned on clips exported through
    /// training/motion10-export-96.yaml: pipelines/hires.yaml and the default cascade, whose last
    /// stage it is, must feed it the same pixels.
    func testHiresAndDefaultPipelinesPreprocessAsTheirTrainingExport() throws {
        let h = try PipelineConfig.load(path: TestPaths.repositoryRoot.appendingPathComponent("pipelines/hires.yaml").path)
        var t = try PipelineConfig.load(path: TestPaths.repositoryRoot.appendingPathComponent("training/motion10-export-96.yaml").path)
        let model = try VideoModel.load(contentsOf: h.modelURL)
        XCTAssertEqual([model.config.numFrames, model.config.height, model.config.width], [16, 96, 96])
        // The export runs the 64 x 64 placeholder at 96 x 96; otherwise the same settings.
        XCTAssertEqual(t.preprocess.crop, [96, 96])
        XCTAssertTrue(t.preprocess.interpolatePositionEmbeddings)
        t.preprocess.crop = nil
        t.preprocess.interpolatePositionEmbeddings = false
        let d = try PipelineConfig.load(path: TestPaths.repositoryRoot.appendingPathComponent("pipelines/default.yaml").path)
        for p in [h, d.lastStageAlone] {
            XCTAssertEqual(p.modelURL, h.modelURL, p.name)
            XCTAssertEqual(p.sampling, t.sampling, p.name)
            XCTAssertEqual(p.preprocess, t.preprocess, p.name)
            XCTAssertEqual(p.decode, t.decode, p.name)
        }
    }

    func testStructuralErrors() {
        expectError("name: x\n", key: "model", containing: ["required"])
        expectError("model: m\nsampling: uniform\n", key: "sampling", containing: ["must be a mapping", "mode"])
        expectError("model: m\nsampling:\n  mode: uniform\n  stride_seconds: 2\n", key: "sampling.stride_seconds", containing: ["not used by mode 'uniform'"])
        expectError("model: m\nsampling:\n  mode: sliding\n", key: "sampling.clip_seconds", containing: ["required when mode is 'sliding'"])
        expectError("model: m\npreprocess:\n  normalization: mean_std\n", key: "preprocess.normalization", containing: ["mean", "std"])
        expectError("model: m\npreprocess:\n  mean: [0.4, 0.4, 0.4]\n", key: "preprocess.mean", containing: ["mean_std"])
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: "model: [unclosed\n", file: "f.yaml")) { e in
            XCTAssertTrue("\(e)".contains("not valid YAML"), "\(e)")
        }
        XCTAssertThrowsError(try PipelineConfig.load(path: "/nonexistent/p.yaml")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/p.yaml"), "\(e)")
        }
    }

    func testHashIgnoresSpeedKnobsButNotResultKnobs() throws {
        let base = try PipelineConfig.parse(yaml: "model: m\n", file: "a.yaml")
        var faster = base
        faster.workers.decode = 7; faster.workers.batchSize = 32; faster.workers.queueCapacity = 99
        XCTAssertEqual(base.hash, faster.hash)
        var other = base
        other.output.topK = 2
        XCTAssertNotEqual(base.hash, other.hash)
        other = base
        other.sampling.mode = .multiview
        XCTAssertNotEqual(base.hash, other.hash)
        XCTAssertEqual(base.hash.count, 16)
    }

    func testGeometryComesFromTheModelAndMustMatchIt() throws {
        var c = try PipelineConfig.parse(yaml: "model: m\n", file: "p.yaml")
        XCTAssertEqual(try c.resolveGeometry(modelFrames: 16, modelHeight: 64, modelWidth: 96),
                       ResolvedGeometry(frames: 16, cropWidth: 96, cropHeight: 64, shortSide: 96))
        c.preprocess.shortSide = 128
        XCTAssertEqual(try c.resolveGeometry(modelFrames: 16, modelHeight: 64, modelWidth: 64).shortSide, 128)
        c.sampling.frames = 8
        XCTAssertThrowsError(try c.resolveGeometry(modelFrames: 16, modelHeight: 64, modelWidth: 64)) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "sampling.frames")
            XCTAssertTrue("\(e)".contains("the model takes 16"), "\(e)")
        }
        c.sampling.frames = nil
        c.preprocess.crop = [224, 224]
        XCTAssertThrowsError(try c.resolveGeometry(modelFrames: 16, modelHeight: 64, modelWidth: 64)) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "preprocess.crop")
        }
    }

    func testOtherGeometryNeedsInterpolatePositionEmbeddings() throws {
        let yaml = "model: m\nsampling:\n  frames: 12\npreprocess:\n  crop: [40, 48]\n"
        let without = try PipelineConfig.parse(yaml: yaml, file: "p.yaml")
        XCTAssertFalse(without.preprocess.interpolatePositionEmbeddings)
        XCTAssertThrowsError(try without.resolveGeometry(modelFrames: 8, modelHeight: 32, modelWidth: 32)) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "sampling.frames")
            XCTAssertTrue("\(e)".contains("interpolate_position_embeddings: true"), "\(e)")
        }
        let with = try PipelineConfig.parse(yaml: yaml + "  interpolate_position_embeddings: true\n", file: "p.yaml")
        XCTAssertTrue(with.preprocess.interpolatePositionEmbeddings)
        XCTAssertEqual(try with.resolveGeometry(modelFrames: 8, modelHeight: 32, modelWidth: 32),
                       ResolvedGeometry(frames: 12, cropWidth: 40, cropHeight: 48, shortSide: 48))
        XCTAssertNotEqual(with.hash, without.hash)
        // false is the default: same configuration, same hash as leaving the key out.
        let off = try PipelineConfig.parse(yaml: yaml + "  interpolate_position_embeddings: false\n", file: "p.yaml")
        XCTAssertEqual(off.hash, without.hash)
        XCTAssertEqual(off, without)
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: yaml + "  interpolate_position_embeddings: maybe\n", file: "p.yaml")) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "preprocess.interpolate_position_embeddings")
        }
    }

    func testAdapterResizesTheModelToThePipelineGeometry() throws {
        // geom_tl11_gap: trained 8x32x32, tubelet 2x8x8.
        let path = TestPaths.repositoryRoot.appendingPathComponent("Tests/TokenReelModelTests/Fixtures/geom_tl11_gap.safetensors").path
        var c = PipelineConfig(name: "geom", modelPath: path)
        c.sampling.frames = 12
        c.preprocess.crop = [40, 48]
        let plain = try VideoModelAdapter.load(config: c)
        XCTAssertEqual([plain.inputFrames, plain.inputHeight, plain.inputWidth], [8, 32, 32])
        XCTAssertThrowsError(try c.resolveGeometry(modelFrames: plain.inputFrames, modelHeight: plain.inputHeight, modelWidth: plain.inputWidth))
        c.preprocess.interpolatePositionEmbeddings = true
        let resized = try VideoModelAdapter.load(config: c)
        XCTAssertEqual([resized.inputFrames, resized.inputHeight, resized.inputWidth], [12, 48, 40])
        XCTAssertEqual(resized.model.trainedConfig.numFrames, 8)
        XCTAssertEqual(try c.resolveGeometry(modelFrames: resized.inputFrames, modelHeight: resized.inputHeight, modelWidth: resized.inputWidth),
                       ResolvedGeometry(frames: 12, cropWidth: 40, cropHeight: 48, shortSide: 48))
        c.sampling.frames = 1                                   // below the tubelet's 2 frames
        XCTAssertThrowsError(try VideoModelAdapter.load(config: c)) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "preprocess.interpolate_position_embeddings")
            XCTAssertTrue("\(e)".contains("tubelet"), "\(e)")
        }
    }

    func testTokenKeepingKeyParsesAndEntersTheHashOnlyWhenSet() throws {
        let base = "model: m\nsampling:\n  frames: 8\n"
        let without = try PipelineConfig.parse(yaml: base, file: "p.yaml")
        XCTAssertNil(without.modelOptions.tokenKeeping)
        let with = try PipelineConfig.parse(yaml: base + "model_options:\n  token_keeping: {rate: 0.7, layers: [3, 6, 9]}\n", file: "p.yaml")
        XCTAssertEqual(with.modelOptions.tokenKeeping, .init(rate: 0.7, layers: [3, 6, 9]))
        XCTAssertNotEqual(with.hash, without.hash)
        let other = try PipelineConfig.parse(yaml: base + "model_options:\n  token_keeping: {rate: 0.5, layers: [3, 6, 9]}\n", file: "p.yaml")
        XCTAssertNotEqual(other.hash, with.hash)
        // An empty section sets nothing: same configuration and hash as leaving it out.
        let empty = try PipelineConfig.parse(yaml: base + "model_options: {}\n", file: "p.yaml")
        XCTAssertEqual(empty, without)
        XCTAssertEqual(empty.hash, without.hash)
        // The hash of a pipeline without the key is the one computed before the key existed.
        XCTAssertEqual(try PipelineConfig.parse(yaml: "name: pinned\nmodel: m\n", file: "p.yaml").hash, Self.pinnedHash)
    }

    /// PipelineConfig.parse(yaml: "name: pinned\nmodel: m\n").hash since session 10 took `inputs`
    /// out of the hash (it was 6a1151b2615ea613 from before model_options, 0b1c689, until then).
    static let pinnedHash = "e8f1bcc7e51f71cc"

    func testTheExtensionsDecideWhichFilesRunNotTheirResultsSoTheyAreNotInTheHash() throws {
        let a = try PipelineConfig.parse(yaml: "name: pinned\nmodel: m\n", file: "p.yaml")
        let b = try PipelineConfig.parse(yaml: "name: pinned\nmodel: m\ninputs: {extensions: [mp4]}\n", file: "p.yaml")
        XCTAssertNotEqual(a.inputs, b.inputs)
        XCTAssertEqual(a.hash, b.hash)
        XCTAssertNotEqual(try PipelineConfig.parse(yaml: "name: pinned\nmodel: m\noutput: {top_k: 2}\n", file: "p.yaml").hash, a.hash)
    }

    func testTokenKeepingKeyErrorsNameTheKey() throws {
        let base = "model: m\nmodel_options:\n  token_keeping: "
        let cases: [(String, String)] = [
            ("{rate: 0, layers: [1]}", "model_options.token_keeping.rate"),
            ("{rate: 1.5, layers: [1]}", "model_options.token_keeping.rate"),
            ("{rate: fast, layers: [1]}", "model_options.token_keeping.rate"),
            ("{layers: [1]}", "model_options.token_keeping.rate"),
            ("{rate: 0.5}", "model_options.token_keeping.layers"),
            ("{rate: 0.5, layers: []}", "model_options.token_keeping.layers"),
            ("{rate: 0.5, layers: [1, 1]}", "model_options.token_keeping.layers"),
            ("{rate: 0.5, layers: [-1]}", "model_options.token_keeping.layers"),
            ("{rate: 0.5, layers: 1}", "model_options.token_keeping.layers"),
            ("{rate: 0.5, layers: [1], when: always}", "model_options.token_keeping.when"),
        ]
        for (value, key) in cases {
            XCTAssertThrowsError(try PipelineConfig.parse(yaml: base + value + "\n", file: "p.yaml"), value) { e in
                XCTAssertEqual((e as? PipelineConfigError)?.key, key, "\(value): \(e)")
            }
        }
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: "model: m\nmodel_options:\n  prune: true\n", file: "p.yaml")) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "model_options.prune")
        }
    }

    func testAdapterAppliesTokenKeeping() throws {
        let fixtures = TestPaths.repositoryRoot.appendingPathComponent("Tests/TokenReelModelTests/Fixtures")
        var c = PipelineConfig(name: "keep", modelPath: fixtures.appendingPathComponent("keep_vivit_gap.safetensors").path)
        let plain = try VideoModelAdapter.load(config: c)
        XCTAssertNil(plain.model.tokenKeeping)
        c.modelOptions.tokenKeeping = .init(rate: 0.5, layers: [1])
        let kept = try VideoModelAdapter.load(config: c)
        XCTAssertEqual(kept.model.tokenKeeping?.rate, 0.5)
        XCTAssertEqual(kept.model.tokenKeeping?.layers, [1])
        XCTAssertLessThan(kept.model.flopsPerClip, plain.model.flopsPerClip)
        c.modelOptions.tokenKeeping = .init(rate: 0.5, layers: [3])          // the model has layers 0...2
        XCTAssertThrowsError(try VideoModelAdapter.load(config: c)) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "model_options.token_keeping.layers")
            XCTAssertTrue("\(e)".contains("out of range"), "\(e)")
        }
        // TokenLearner models keep tokens too, but a TokenFuser block cannot drop learned tokens.
        var tl = PipelineConfig(name: "keep", modelPath: fixtures.appendingPathComponent("tl11_gap.safetensors").path)
        tl.modelOptions.tokenKeeping = .init(rate: 0.5, layers: [0])
        XCTAssertNoThrow(try VideoModelAdapter.load(config: tl))
        var fused = PipelineConfig(name: "keep", modelPath: fixtures.appendingPathComponent("tl11_fuse.safetensors").path)
        fused.modelOptions.tokenKeeping = .init(rate: 0.5, layers: [1])
        XCTAssertThrowsError(try VideoModelAdapter.load(config: fused)) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "model_options.token_keeping.layers")
            XCTAssertTrue("\(e)".contains("TokenFuser"), "\(e)")
        }
    }

    func testBLASOversubscriptionIsReported() throws {
        var c = try PipelineConfig.parse(yaml: "model: m\n", file: "p.yaml")
        XCTAssertNil(c.blasOversubscription(cores: 2))          // 1 x (1 + 1)
        c.workers.blasThreads = 2
        XCTAssertNotNil(c.blasOversubscription(cores: 2))       // 2 x (1 + 1) = 4 > 2
        XCTAssertNil(c.blasOversubscription(cores: 4))
    }

}
