import ArgumentParser

/// The `tokenreel` command tree. Each subcommand lives in its own file; this file only lists them.
///
/// Exit codes (documented in README.md):
///   0   every input labelled
///   1   some inputs failed (all others written)
///   2   usage or configuration error
///   130 interrupted (SIGINT/SIGTERM)
@main
struct TokenReel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenreel",
        abstract: "Label every clip of every video in a directory tree with a TokenLearner video transformer.",
        version: "0.1.0",
        subcommands: [
            RunCommand.self,
            ProbeCommand.self,
            ModelCommand.self,
            PipelinesCommand.self,
            MergeCommand.self,
            SynthCommand.self,
            BenchCommand.self,
        ]
    )
}
