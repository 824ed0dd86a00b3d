/// A role's bad command line, named in one line.
public struct WorkerUsageError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// A role's command line: `--name value` options and `--flag`s, each error one line naming
/// the role and the option.
struct WorkerOptions {
    let role: String
    private var remaining: [String]

    init(_ arguments: [String], role: String) {
        self.role = role
        remaining = arguments
    }

    /// Removes `--name VALUE` and returns VALUE, or nil if absent.
    mutating func value(_ name: String) throws(WorkerUsageError) -> String? {
        guard let index = remaining.firstIndex(of: name) else { return nil }
        guard index + 1 < remaining.count else {
            throw WorkerUsageError(description: "worker \(role): \(name) needs a value")
        }
        let value = remaining[index + 1]
        remaining.removeSubrange(index...index + 1)
        return value
    }

    /// Every `--name VALUE`, in order.
    mutating func values(_ name: String) throws(WorkerUsageError) -> [String] {
        var result: [String] = []
        while let value = try value(name) { result.append(value) }
        return result
    }

    mutating func required(_ name: String) throws(WorkerUsageError) -> String {
        guard let value = try value(name) else {
            throw WorkerUsageError(description: "worker \(role): missing required option \(name)")
        }
        return value
    }

    mutating func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(WorkerUsageError) -> Int {
        guard let text = try value(name) else { return fallback }
        guard let number = Int(text), range.contains(number) else {
            throw WorkerUsageError(description: "worker \(role): \(name) expects an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return number
    }

    mutating func flag(_ name: String) -> Bool {
        guard let index = remaining.firstIndex(of: name) else { return false }
        remaining.remove(at: index)
        return true
    }

    /// Fails on anything left over.
    func finish() throws(WorkerUsageError) {
        if let first = remaining.first {
            throw WorkerUsageError(description: "worker \(role): unknown option '\(first)'")
        }
    }
}
