/// The faults the sensor simulator injects, all off by default.
///
/// Connection-level: `outage` (nothing listens for that long from start, so clients get
/// ECONNREFUSED) and `latency` (added to every telemetry response). Request-level, decided per
/// request from a seeded counter: `http500Rate` (status 500) and `malformedRate` (the body is
/// broken JSON). Record-level, decided per (seed, record index) so a run is reproducible:
/// `poisonRate` from record `poisonFrom` on (a physically impossible reading or a flipped failure
/// label), `missingRate` (one reading is JSON `null`), and `flipRate` from record `flipFrom` on (the failure label
/// inverted and nothing else: the poison no range check can see, for the label-rate gate and
/// the model promotion guard).
public struct SimulatorFaults: Equatable, Sendable, CustomStringConvertible {
    /// How long nothing listens after start.
    public var outage: Duration = .zero
    /// Delay added to every telemetry response.
    public var latency: Duration = .zero
    /// Fraction of telemetry requests answered with status 500.
    public var http500Rate = 0.0
    /// Fraction of telemetry responses whose body is broken JSON.
    public var malformedRate = 0.0
    /// Fraction of records, from index `poisonFrom` on, with a physically impossible reading or
    /// a flipped failure label.
    public var poisonRate = 0.0
    /// The first record index `poisonRate` applies to: the records before it are served clean of
    /// poison (a drill's clean batches before the poisoned one).
    public var poisonFrom = 0
    /// Fraction of records with one reading missing (JSON `null`).
    public var missingRate = 0.0
    /// Fraction of records, from index `flipFrom` on, whose failure label is inverted.
    public var flipRate = 0.0
    /// The first record index `flipRate` applies to.
    public var flipFrom = 0

    /// No faults.
    public init() {}

    /// One `KIND=VALUE` setting of the command line.
    public enum Setting: Equatable, Sendable {
        /// `outage=SECONDS`.
        case outage(Duration)
        /// `latency=MILLISECONDS`.
        case latency(Duration)
        /// `http500=RATE`.
        case http500(Double)
        /// `malformed=RATE`.
        case malformed(Double)
        /// `poison=RATE` or `poison=RATE@FROM`: poison from record FROM on (default 0).
        case poison(Double, from: Int)
        /// `missing=RATE`.
        case missing(Double)
        /// `flip=RATE` or `flip=RATE@FROM`: labels inverted from record FROM on (default 0).
        case flip(Double, from: Int)
    }

    /// A `--fault` value that is not a known `KIND=VALUE`, named with what was expected.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The kinds `parse` accepts, in the order they are listed in errors.
    public static let kinds = ["outage", "latency", "http500", "malformed", "poison", "missing", "flip"]

    /// Parses one `KIND=VALUE`: `outage=5` (seconds), `latency=20` (milliseconds), rates
    /// from 0 to 1 for `http500`, `malformed`, `missing`, and `poison=RATE[@FROM]`, `flip=RATE[@FROM]`.
    /// - Throws: `ParseError` naming the bad kind or value and what is expected.
    public static func parse(_ text: String) throws(ParseError) -> Setting {
        guard let equals = text.firstIndex(of: "=") else {
            throw ParseError(description: "fault '\(text)' is not KIND=VALUE (e.g. http500=0.1); kinds: \(kinds.joined(separator: ", "))")
        }
        let kind = String(text[..<equals])
        let valueText = String(text[text.index(after: equals)...])
        func number(_ expected: String, in range: ClosedRange<Double>) throws(ParseError) -> Double {
            guard let value = Double(valueText), value.isFinite, range.contains(value) else {
                throw ParseError(description: "fault '\(text)': \(kind) expects \(expected), got '\(valueText)'")
            }
            return value
        }
        switch kind {
        case "outage": return .outage(.seconds(try number("seconds >= 0", in: 0...86_400)))
        case "latency": return .latency(.milliseconds(try number("milliseconds >= 0", in: 0...600_000)))
        case "http500": return .http500(try number("a rate from 0 to 1", in: 0...1))
        case "malformed": return .malformed(try number("a rate from 0 to 1", in: 0...1))
        case "missing": return .missing(try number("a rate from 0 to 1", in: 0...1))
        case "poison", "flip":
            let parts = valueText.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
            let expected = "RATE or RATE@FROM (a rate from 0 to 1, FROM a record index >= 0)"
            guard let rate = Double(parts[0]), rate.isFinite, (0...1).contains(rate) else {
                throw ParseError(description: "fault '\(text)': \(kind) expects \(expected), got '\(valueText)'")
            }
            var from = 0
            if parts.count == 2 {
                guard let index = Int(parts[1]), index >= 0 else {
                    throw ParseError(description: "fault '\(text)': \(kind) expects \(expected), got '\(valueText)'")
                }
                from = index
            }
            return kind == "poison" ? .poison(rate, from: from) : .flip(rate, from: from)
        default:
            throw ParseError(description: "fault '\(text)': unknown kind '\(kind)', expected one of \(kinds.joined(separator: ", "))")
        }
    }

    /// Sets one fault; a later setting of the same kind replaces an earlier one.
    public mutating func apply(_ setting: Setting) {
        switch setting {
        case .outage(let duration): outage = duration
        case .latency(let duration): latency = duration
        case .http500(let rate): http500Rate = rate
        case .malformed(let rate): malformedRate = rate
        case .poison(let rate, let from):
            poisonRate = rate
            poisonFrom = from
        case .missing(let rate): missingRate = rate
        case .flip(let rate, let from):
            flipRate = rate
            flipFrom = from
        }
    }

    /// The faults that are on, as `KIND=VALUE` words, or `none`.
    public var description: String {
        var words: [String] = []
        if outage > .zero { words.append("outage=\(outage.seconds)") }
        if latency > .zero { words.append("latency=\(latency.seconds * 1000)") }
        if http500Rate > 0 { words.append("http500=\(http500Rate)") }
        if malformedRate > 0 { words.append("malformed=\(malformedRate)") }
        if poisonRate > 0 { words.append("poison=\(poisonRate)" + (poisonFrom > 0 ? "@\(poisonFrom)" : "")) }
        if missingRate > 0 { words.append("missing=\(missingRate)") }
        if flipRate > 0 { words.append("flip=\(flipRate)" + (flipFrom > 0 ? "@\(flipFrom)" : "")) }
        return words.isEmpty ? "none" : words.joined(separator: " ")
    }
}
