import ArgumentParser

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel run' is not implemented yet")
    }
}
