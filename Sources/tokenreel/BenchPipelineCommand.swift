import ArgumentParser

struct BenchPipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel bench pipeline' is not implemented yet")
    }
}
