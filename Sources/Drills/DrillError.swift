/// Why a drill cannot be run at all (not a failed check: the system's misbehaviour is a check):
/// a policy that cannot be drilled (`isUsage`, exit 2), or a process or directory that cannot be
/// made (exit 1). `cidp drill` prints it as one line with its exit code.
public struct DrillError: Error, CustomStringConvertible, Sendable {
    public var isUsage: Bool
    public var message: String

    public static func usage(_ message: String) -> DrillError { DrillError(isUsage: true, message: message) }
    public static func failure(_ message: String) -> DrillError { DrillError(isUsage: false, message: message) }

    public var description: String { message }
}
