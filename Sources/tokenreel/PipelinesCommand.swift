import ArgumentParser
import Foundation
import TokenReelPipeline

/// `tokenreel pipelines ...`: check and list pipeline files.
struct PipelinesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipelines",
        abstract: "Check and list pipeline files (see docs/pipelines.md).",
        subcommands: [Validate.self, List.self]
    )

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check pipeline files: every key known, every value allowed, the model file present.",
            discussion: "Prints one line per valid file on stdout; problems go to stderr with exit code 2."
        )

        @Argument(help: "Pipeline YAML files.")
        var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    let c = try PipelineConfig.load(path: file)
                    guard FileManager.default.fileExists(atPath: c.modelURL.path) else {
                        throw PipelineConfigError(file: file, key: "model", line: nil,
                                                  message: "\(c.modelURL.path): no such file (relative paths are taken from the pipeline file's directory)")
                    }
                    print("\(file): ok (name \(c.name), hash \(c.hash), sampling \(c.sampling.mode.rawValue), model \(c.modelURL.path))")
                } catch {
                    FileHandle.standardError.write(Data("tokenreel: \(error)\n".utf8))
                    failed = true
                }
            }
            if failed { throw ExitCode(ExitStatus.usage) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the bundled pipelines (the directory 'run' takes its default from).")

        func run() throws {
            let dir = URL(fileURLWithPath: try BundledPipelines.defaultPath()).deletingLastPathComponent()
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where name.hasSuffix(".yaml") {
                print(dir.appendingPathComponent(name).path)
            }
        }
    }
}
