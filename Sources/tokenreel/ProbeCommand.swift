import ArgumentParser

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "(not implemented yet)"
    )

    func run() throws {
        throw ValidationError("'tokenreel probe' is not implemented yet")
    }
}
