import ArgumentParser
import Foundation

/// The `tokenreel` command tree. Each subcommand lives in its own file; this file only lists
/// them and maps errors to the documented exit codes.
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
            EvalCommand.self,
            CalibrateCommand.self,
            SweepCommand.self,
            ExportCommand.self,
            ProbeCommand.self,
            ModelCommand.self,
            PipelinesCommand.self,
            MergeCommand.self,
            SynthCommand.self,
            BenchCommand.self,
        ]
    )

    /// Like ArgumentParser's `main()`, but usage errors exit 2 (not 64), and a
    /// ``UsageFailure`` (bad pipeline, model or directory) is a usage error too.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as UsageFailure {
            FileHandle.standardError.write(Data("tokenreel: \(failure)\n".utf8))
            Foundation.exit(ExitStatus.usage)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }          // --help, --version
            if error is ExitCode { Foundation.exit(code.rawValue) }  // a command's chosen status
            if code == .validationFailure {                          // bad arguments: message and usage
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage)
            }
            // Anything else a command threw (an output it cannot write, ...) says what in one line.
            FileHandle.standardError.write(Data("tokenreel: \(error)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}
