import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Posix

/// A secret the extractor authenticates with: a bearer token, or `user:password` for basic
/// authentication, read from a file or an environment variable when the extractor starts.
///
/// The secret is never in the extractor's command line (the policy names the file or the
/// variable), and never printed: `description` hides it, every error and log line about a
/// request passes through `redact`, and loading errors name the file or variable, never content.
public struct HTTPCredential: Equatable, Sendable, CustomStringConvertible {
    /// How the secret is sent.
    public enum Scheme: String, CaseIterable, Sendable {
        /// `Authorization: Bearer TOKEN` (RFC 6750).
        case bearer
        /// `Authorization: Basic base64(user:password)` (RFC 7617).
        case basic
    }

    /// Where the secret is read from.
    public enum Source: Equatable, Sendable {
        /// A file holding the secret (one trailing line break, or spaces, are ignored).
        case file(String)
        /// An environment variable holding it.
        case environment(String)
    }

    public let scheme: Scheme
    private let secret: String

    /// The longest secret read from a file: a token is a few kilobytes at most.
    public static let maximumLength = 16 * 1024

    public init(scheme: Scheme, secret: String) {
        self.scheme = scheme
        self.secret = secret
    }

    /// `bearer credential (hidden)`: never the secret.
    public var description: String { "\(scheme.rawValue) credential (hidden)" }

    /// The `Authorization` header line for a request.
    var header: String {
        switch scheme {
        case .bearer: "Authorization: Bearer \(secret)"
        case .basic: "Authorization: Basic \(Self.base64(Array(secret.utf8)))"
        }
    }

    /// `text` with every form the secret is sent in (the secret itself, its base64, and for basic
    /// authentication the password alone) replaced by `<redacted>`: what a server may echo back
    /// in an error body, a redirect or a header, and so in an error line.
    public func redact(_ text: String) -> String {
        var forms = [secret, Self.base64(Array(secret.utf8))]
        if scheme == .basic, let colon = secret.firstIndex(of: ":") {
            let password = String(secret[secret.index(after: colon)...])
            if !password.isEmpty { forms.append(password) }
        }
        var result = text
        for form in forms where !form.isEmpty {
            result = result.replacingOccurrences(of: form, with: "<redacted>")
        }
        return result
    }

    /// Reads the secret from `source`, as the extractor does at start (and `cidp up` to check
    /// the policy before anything starts).
    /// - Parameter environment: variables the extractor gets on top of this process's own (a
    ///   worker's `env` in the policy), for `.environment`.
    /// - Throws: a one-line `WorkerUsageError` naming the option and the file or variable, never
    ///   the content: unreadable, empty, too long, a control character inside (a line break would
    ///   end the header), or for basic authentication no `:` between user and password.
    public static func load(scheme: Scheme, from source: Source,
                            environment: [String: String] = [:]) throws(WorkerUsageError) -> HTTPCredential {
        let raw: String
        let origin: String
        switch source {
        case .file(let path):
            origin = "--auth-token-file '\(path)'"
            raw = try readFile(path, origin: origin)
        case .environment(let name):
            origin = "--auth-token-env \(name)"
            if let value = environment[name] {
                raw = value
            } else if let value = getenv(name) {
                raw = String(cString: value)
            } else {
                throw usage("\(origin): the variable is not set in the extractor's environment")
            }
        }
        var secret = Substring(raw)
        while let last = secret.last, last == "\n" || last == "\r" || last == " " || last == "\t" { secret.removeLast() }
        guard !secret.isEmpty else { throw usage("\(origin): the secret is empty") }
        guard secret.utf8.count <= maximumLength else { throw usage("\(origin): the secret is longer than \(maximumLength) bytes") }
        guard !secret.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw usage("\(origin): the secret holds a control character (a line break inside?)")
        }
        guard scheme != .basic || secret.contains(":") else {
            throw usage("\(origin): basic authentication expects 'user:password'")
        }
        return HTTPCredential(scheme: scheme, secret: String(secret))
    }

    /// The contents of `path`, at most `maximumLength` + 2 bytes (a longer file is refused after).
    private static func readFile(_ path: String, origin: String) throws(WorkerUsageError) -> String {
        let fd: FileDescriptor
        do throws(Errno) { fd = try Posix.open(path, O_RDONLY | O_CLOEXEC) } catch { throw usage("\(origin): cannot read: \(error)") }
        defer { Posix.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= maximumLength + 2 {
            let count: Int?
            do throws(Errno) { count = try Posix.readAvailable(fd, into: &chunk) } catch {
                throw usage("\(origin): cannot read: \(error)")
            }
            guard let count else { break }
            bytes += chunk[0..<count]
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw usage("\(origin): the secret is not UTF-8 text") }
        return text
    }

    private static func usage(_ problem: String) -> WorkerUsageError {
        WorkerUsageError(description: "worker extractor: \(problem)")
    }

    /// Standard base64 with padding (RFC 4648 §4).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var group = UInt32(bytes[index]) << 16
            if count > 1 { group |= UInt32(bytes[index + 1]) << 8 }
            if count > 2 { group |= UInt32(bytes[index + 2]) }
            for position in 0..<4 {
                output.append(position <= count ? alphabet[Int(group >> (18 - 6 * UInt32(position)) & 0x3F)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
