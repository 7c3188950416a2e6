// swift-tools-version: 6.0
//
// TokenReel: label every clip of every video in a directory tree.
//
// Dependency direction (see docs/ARCHITECTURE.md):
//   tokenreel (CLI) -> TokenReelPipeline -> { TokenReelMedia, TokenReelModel }
//   TokenReelSynth  -> TokenReelMedia (encoding only)
//   TokenReelMedia  -> CFFmpeg, CFFmpegShims          (knows nothing of models)
//   TokenReelModel  -> CBLAS, CKernels                (knows nothing of FFmpeg)
import PackageDescription

let package = Package(
    name: "TokenReel",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tokenreel", targets: ["tokenreel"]),
        .library(name: "TokenReelPipeline", targets: ["TokenReelPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian: libav*-dev, libopenblas-dev).
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        // The few lines Swift cannot express: FFmpeg's variadic log callback and
        // function-like macros (AVERROR, AV_NOPTS_VALUE, ...).
        .target(name: "CFFmpegShims", dependencies: ["CFFmpeg"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        .target(name: "TokenReelMedia", dependencies: ["CFFmpeg", "CFFmpegShims"]),
        // GELU, softmax, LayerNorm and friends in C, built for baseline x86-64 and for AVX2 + FMA,
        // chosen at run time (Swift has no per-function target attributes).
        .target(name: "CKernels"),
        .target(name: "TokenReelModel", dependencies: ["CBLAS", "CKernels"]),
        .target(
            name: "TokenReelPipeline",
            dependencies: [
                "TokenReelMedia", "TokenReelModel", "TokenReelPlot", "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(name: "TokenReelSynth", dependencies: ["TokenReelMedia"]),
        // Charts a person looks at (confusion matrices, accuracy/compute trade-offs) as PNG.
        .target(name: "TokenReelPlot", dependencies: ["CZlib"]),
        .executableTarget(
            name: "tokenreel",
            dependencies: [
                "TokenReelPipeline", "TokenReelMedia", "TokenReelModel", "TokenReelSynth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "TokenReelMediaTests", dependencies: ["TokenReelMedia"]),
        .testTarget(
            name: "TokenReelModelTests",
            dependencies: ["TokenReelModel"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "TokenReelPlotTests", dependencies: ["TokenReelPlot", "CZlib"]),
        .testTarget(name: "TokenReelSynthTests", dependencies: ["TokenReelSynth", "TokenReelMedia"]),
        // Integration tests drive the built `tokenreel` binary on temporary directory trees.
        .testTarget(name: "TokenReelPipelineTests", dependencies: ["TokenReelPipeline", "tokenreel"]),
    ],
    swiftLanguageModes: [.v5]
)
