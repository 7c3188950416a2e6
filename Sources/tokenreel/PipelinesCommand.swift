import ArgumentParser

struct PipelinesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipelines",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel pipelines' is not implemented yet")
    }
}
