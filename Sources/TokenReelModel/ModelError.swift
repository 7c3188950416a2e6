/// Why a model could not be loaded or run. The description names the file and, where there is
/// one, the tensor, with what was found versus what was expected.
public struct ModelError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case io                 // cannot open, stat or map the file
        case header             // safetensors framing: header length, JSON, offsets
        case metadata           // __metadata__ missing or not the documented schema
        case config             // hyper-parameters inconsistent
        case tensors            // missing / unexpected / mis-shaped / wrong dtype tensors
        case input              // a tensor given to the model has the wrong shape
    }
    public var kind: Kind
    /// The weights file (or the input file, for `.input`).
    public var path: String
    /// One line per problem.
    public var problems: [String]

    public init(_ kind: Kind, path: String, _ problems: [String]) {
        self.kind = kind
        self.path = path
        self.problems = problems
    }

    public init(_ kind: Kind, path: String, _ message: String) {
        self.init(kind, path: path, [message])
    }

    public var description: String {
        if problems.count == 1 { return "\(path): \(problems[0])" }
        return "\(path): \(problems.count) problems:\n" + problems.map { "  - " + $0 }.joined(separator: "\n")
    }
}
