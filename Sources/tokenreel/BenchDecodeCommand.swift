import ArgumentParser

struct BenchDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel bench decode' is not implemented yet")
    }
}
