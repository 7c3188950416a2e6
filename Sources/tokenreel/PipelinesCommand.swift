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
            abstract: "Check pipeline files: every key known, every value allowed, every model file present (each cascade stage's).",
            discussion: "Prints one line per valid file on stdout; problems go to stderr with exit code 2."
        )

        @Argument(help: "Pipeline YAML files.")
        var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    let c = try PipelineConfig.load(path: file)
                    // Every model the pipeline names: each cascade stage's, or the one model.
                    for (i, url) in c.modelURLs.enumerated() where !FileManager.default.fileExists(atPath: url.path) {
                        throw PipelineConfigError(file: file, key: c.cascade == nil ? "model" : "cascade[\(i)].model", line: nil,
                                                  message: "\(url.path): no such file (relative paths are taken from the pipeline file's directory)")
                    }
                    let models = c.modelURLs.map(\.path).joined(separator: ", ")
                    print("\(file): ok (name \(c.name), hash \(c.hash), sampling \(c.sampling.mode.rawValue), model\(c.cascade == nil ? "" : "s") \(models))")
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
