import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel bench' is not implemented yet")
    }
}
