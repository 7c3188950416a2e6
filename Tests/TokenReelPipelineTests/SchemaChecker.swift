import Foundation
import TokenReelPipeline

/// A JSON Schema checker for the subset docs/result-schema.json uses: `type` (string or list),
/// `const`, `enum`, `required`, `properties`, `additionalProperties` (bool or schema), `items`,
/// `minimum`, `maximum`, `pattern` and local `$ref` (`#/...`). Any other keyword is an error, so
/// the schema cannot silently use something this checker ignores.
struct SchemaChecker {
    let root: JSONValue

    static let known: Set<String> = ["$schema", "$id", "$defs", "title", "description", "type", "const", "enum",
                                     "required", "properties", "additionalProperties", "items", "minimum",
                                     "maximum", "pattern", "$ref"]

    static func repositorySchema() throws -> SchemaChecker {
        let url = TestPaths.repositoryRoot.appendingPathComponent("docs/result-schema.json")
        return SchemaChecker(root: try JSONValue(parsing: Data(contentsOf: url)))
    }

    /// Problems found validating `value` against the schema at `pointer` (`#` = the root).
    func validate(_ value: JSONValue, against pointer: String = "#") -> [String] {
        var problems: [String] = []
        check(value, resolve(pointer), at: "$", &problems)
        return problems
    }

    func resolve(_ ref: String) -> JSONValue {
        var node = root
        for part in ref.dropFirst(2).split(separator: "/") where !ref.isEmpty && ref != "#" {
            guard let next = node[String(part)] else { fatalError("schema: cannot resolve \(ref)") }
            node = next
        }
        return node
    }

    private func check(_ v: JSONValue, _ schema: JSONValue, at path: String, _ problems: inout [String]) {
        guard case let .object(s) = schema else { problems.append("\(path): schema is not an object"); return }
        for key in s.keys where !Self.known.contains(key) { problems.append("\(path): checker does not know keyword \(key)") }
        if let ref = s["$ref"]?.stringValue { check(v, resolve(ref), at: path, &problems); return }
        if let t = s["type"] {
            let types = t.arrayValue?.compactMap(\.stringValue) ?? [t.stringValue ?? ""]
            guard types.contains(where: { matches(v, $0) }) else {
                problems.append("\(path): expected \(types.joined(separator: "|")), got \(v)"); return
            }
        }
        if let c = s["const"], c != v { problems.append("\(path): expected \(c), got \(v)") }
        if let e = s["enum"]?.arrayValue, !e.contains(v) { problems.append("\(path): \(v) not in \(e)") }
        switch v {
        case let .object(o):
            for r in s["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where o[r] == nil {
                problems.append("\(path): missing required key \(r)")
            }
            let props = s["properties"]?.objectValue ?? [:]
            for (k, value) in o {
                if let p = props[k] { check(value, p, at: "\(path).\(k)", &problems) }
                else if case .bool(false)? = s["additionalProperties"] { problems.append("\(path): unexpected key \(k)") }
                else if let extra = s["additionalProperties"], extra.objectValue != nil { check(value, extra, at: "\(path).\(k)", &problems) }
            }
        case let .array(a):
            if let items = s["items"] { for (i, x) in a.enumerated() { check(x, items, at: "\(path)[\(i)]", &problems) } }
        case let .number(n):
            if let m = s["minimum"]?.doubleValue, n < m { problems.append("\(path): \(n) < minimum \(m)") }
            if let m = s["maximum"]?.doubleValue, n > m + 1e-12 { problems.append("\(path): \(n) > maximum \(m)") }
        case let .string(str):
            if let p = s["pattern"]?.stringValue, str.range(of: p, options: .regularExpression) == nil {
                problems.append("\(path): '\(str)' does not match \(p)")
            }
        default: break
        }
    }

    private func matches(_ v: JSONValue, _ type: String) -> Bool {
        switch (type, v) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("number", .number): return true
        case let ("integer", .number(n)): return n.rounded() == n
        default: return false
        }
    }
}

enum TestPaths {
    /// The package root, found from this file's path (Tests/TokenReelPipelineTests/<file>).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A fresh empty temporary directory, removed by the caller's tearDown.
    static func makeTemporaryDirectory(_ name: String = "tokenreel-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.resolvingSymlinksInPath()
    }
}
