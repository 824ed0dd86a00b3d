/// An IPv4 address and port as a policy or an option writes them, `"127.0.0.1:9465"`: the one
/// parser for every `listen` (the root's metrics, the predictor). Dotted quads only; names are
/// never resolved.
public struct IPv4Endpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    /// What is wrong with the text, in a few words (`"no ':PORT'"`).
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `"A.B.C.D:PORT"` (each octet 0–255, the port 0–65535, ASCII digits only).
    /// - Throws: `Problem` saying what is wrong.
    public init(parsing text: String) throws(Problem) {
        guard let colon = text.lastIndex(of: ":") else { throw Problem(description: "no ':PORT'") }
        let host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ octet in
            !octet.isEmpty && octet.count <= 3 && octet.allSatisfy { $0.isASCII && $0.isNumber }
                && (Int(octet).map { $0 <= 255 } ?? false)
        }) else {
            throw Problem(description: "the host is not an IPv4 address")
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), port <= 65535 else {
            throw Problem(description: "the port is not a number from 0 to 65535")
        }
        self.host = host
        self.port = UInt16(port)
    }

    /// In 127.0.0.0/8.
    public var isLoopback: Bool { host.hasPrefix("127.") }

    public var description: String { "\(host):\(port)" }
}
