import ArgumentParser
import Foundation
import TokenReelMedia

/// `tokenreel probe FILE...`: what the decoder sees in each file, as JSON on stdout.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Print each video's stream information (size, rotation, frame rate, frame count...) as a JSON array.",
        discussion: """
            Files that cannot be read are reported on stderr as "<file>: <kind>: <reason>" and left \
            out of the array; the exit code is then 1.
            """
    )

    @Argument(help: "Video files to probe.")
    var files: [String]

    @Option(help: "Seconds allowed per file before it is reported as a timeout.")
    var timeout: Double = 60

    func run() throws {
        var infos: [VideoInfo] = []
        var failed = 0
        for file in files {
            do {
                infos.append(try MediaProbe.probe(path: file, options: DecodeOptions(timeoutSeconds: timeout)))
            } catch {
                failed += 1
                FileHandle.standardError.write(Data("\(error)\n".utf8))
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(infos) + Data("\n".utf8))
        if failed > 0 { throw ExitCode(1) }
    }
}
