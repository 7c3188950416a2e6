import ArgumentParser

struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel bench model' is not implemented yet")
    }
}
