import ArgumentParser

/// `tokenreel bench ...`: benchmarks that print ratios against a peer measured in the same run.
/// Each benchmark lives in its own file.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks against peers measured in the same run (ffmpeg CLI, PyAV, decord, JAX).",
        subcommands: [BenchDecodeCommand.self, BenchModelCommand.self, BenchPipelineCommand.self]
    )
}
