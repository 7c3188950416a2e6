import ArgumentParser

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel synth' is not implemented yet")
    }
}
