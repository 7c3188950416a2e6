import ArgumentParser

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel merge' is not implemented yet")
    }
}
