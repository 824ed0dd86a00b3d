/// Everything the transformer carries from one batch to the next: the per-pump rolling windows
/// and the reference profile of the drift check. The loader stores `encoded()` with each
/// committed batch; a restarted transformer resumes from it exactly.
public struct TransformerState: Equatable, Sendable {
    /// Per pump, the last timestamp and the rolling-mean windows.
    public var windows: RollingWindows
    /// The drift reference, building or frozen.
    public var reference: ReferenceProfile

    /// The state after `windows` with `reference` (by default: nothing seen yet).
    public init(windows: RollingWindows = .init(), reference: ReferenceProfile = .init()) {
        self.windows = windows
        self.reference = reference
    }
}

/// Format 2, little-endian, nothing implicit:
///
/// | field | encoding |
/// | --- | --- |
/// | format | `UInt8`, 2 |
/// | windows | `UInt32` byte count, then `RollingWindows.encoded()` (format 2; format 1 still read) |
/// | profile phase | `UInt8`: 0 building, 1 complete |
/// | · building | `UInt32` records n, then per reading (flow_rate, pressure, vibration, temperature) its n values in stream order (`UInt64` IEEE-754 bits, finite) |
/// | · complete | per reading, in the same order: `UInt8` edge count m (0…99), m edges strictly increasing (finite `UInt64` bits), m + 1 `UInt32` counts, each ≥ 1, the same total for every reading |
///
/// A blob whose first byte is 1 is a bare `RollingWindows` encoding (checkpoints written before
/// the reference profile existed): it decodes as those windows and an empty profile.
extension TransformerState {
    /// The format byte this version writes.
    public static let encodingFormat: UInt8 = 2

    /// The most reference records a building profile may hold (`GatePolicy.referenceRecordsRange`).
    static let maximumReferenceRecords = GatePolicy.referenceRecordsRange.upperBound
    /// The most edges a frozen reading may have (`GatePolicy.psiBinsRange` − 1).
    static let maximumEdges = GatePolicy.psiBinsRange.upperBound - 1

    /// The state as bytes; the same state always gives the same bytes.
    public func encoded() -> [UInt8] {
        let windowBytes = windows.encoded()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + windowBytes.count + ReferenceProfile.readings.count * reference.recordCount * 8)
        bytes.append(Self.encodingFormat)
        bytes.appendLittleEndian(UInt32(windowBytes.count))
        bytes.append(contentsOf: windowBytes)
        switch reference.phase {
        case .building(let values):
            bytes.append(0)
            bytes.appendLittleEndian(UInt32(values[0].count))
            for reading in values {
                for value in reading { bytes.appendLittleEndian(value.bitPattern) }
            }
        case .complete(let bins):
            bytes.append(1)
            for reading in bins {
                bytes.append(UInt8(reading.edges.count))
                for edge in reading.edges { bytes.appendLittleEndian(edge.bitPattern) }
                for count in reading.counts { bytes.appendLittleEndian(UInt32(count)) }
            }
        }
        return bytes
    }

    /// Restores state made by `encoded()`, or by `RollingWindows.encoded()` (format 1: windows
    /// and an empty profile).
    ///
    /// Counts are checked against the bytes left before anything is allocated, doubles must be
    /// finite, edges increasing and counts consistent, so hostile input throws instead of
    /// trapping or poisoning the drift check.
    /// - Throws: `TransformError`: `badWindowState` for the windows, `badTransformerState` for the rest.
    public init(decoding bytes: [UInt8]) throws(TransformError) {
        guard let format = bytes.first else {
            throw TransformError(.badTransformerState("empty (at byte 0 of 0)"))
        }
        if format == RollingWindows.formatWithoutLastFields {
            self.init(windows: try RollingWindows(decoding: bytes))
            return
        }
        var reader = StateReader(bytes: bytes, code: { .badTransformerState($0) })
        _ = try reader.read(UInt8.self, "the format")
        guard format == Self.encodingFormat else {
            throw reader.failure("unknown format \(format) (expected \(RollingWindows.formatWithoutLastFields) or \(Self.encodingFormat))")
        }
        let windowCount = Int(try reader.read(UInt32.self, "the window state's length"))
        guard windowCount <= reader.remaining else {
            throw reader.failure("the window state claims \(windowCount) bytes, \(reader.remaining) left")
        }
        let windows = try RollingWindows(decoding: Array(bytes[reader.offset..<reader.offset + windowCount]))
        reader.offset += windowCount
        let readings = ReferenceProfile.readings
        let phase = try reader.read(UInt8.self, "the profile phase")
        switch phase {
        case 0:
            let count = Int(try reader.read(UInt32.self, "the reference record count"))
            guard count <= Self.maximumReferenceRecords else {
                throw reader.failure("the reference claims \(count) records (at most \(Self.maximumReferenceRecords))")
            }
            guard count <= reader.remaining / (8 * readings.count) else {
                throw reader.failure("the reference claims \(count) records, \(reader.remaining) bytes left")
            }
            var values: [[Double]] = []
            for reading in readings {
                var column: [Double] = []
                column.reserveCapacity(count)
                for index in 0..<count {
                    column.append(try reader.readFiniteDouble("reference value \(index) of \(reading)"))
                }
                values.append(column)
            }
            self.init(windows: windows, reference: ReferenceProfile(phase: .building(values)))
        case 1:
            var bins: [FeatureBins] = []
            for reading in readings {
                let edgeCount = Int(try reader.read(UInt8.self, "the edge count of \(reading)"))
                guard edgeCount <= Self.maximumEdges else {
                    throw reader.failure("\(reading) has \(edgeCount) edges (at most \(Self.maximumEdges))")
                }
                var edges: [Double] = []
                for index in 0..<edgeCount {
                    let edge = try reader.readFiniteDouble("edge \(index) of \(reading)")
                    if let last = edges.last, !(last < edge) {
                        throw reader.failure("edge \(index) of \(reading) (\(edge)) not above the one before (\(last))")
                    }
                    edges.append(edge)
                }
                var counts: [Int] = []
                for index in 0...edgeCount {
                    let count = Int(try reader.read(UInt32.self, "count \(index) of \(reading)"))
                    guard count >= 1 else { throw reader.failure("bin \(index) of \(reading) is empty") }
                    counts.append(count)
                }
                let reference = FeatureBins(edges: edges, counts: counts)
                if let first = bins.first, first.total != reference.total {
                    throw reader.failure("\(reading) totals \(reference.total) records, \(readings[0]) \(first.total)")
                }
                bins.append(reference)
            }
            self.init(windows: windows, reference: ReferenceProfile(phase: .complete(bins)))
        default:
            throw reader.failure("unknown profile phase \(phase)")
        }
        guard reader.remaining == 0 else { throw reader.failure("\(reader.remaining) unexpected bytes after the end") }
    }
}
