/// What the batch gate measured on one batch, and what it could not judge.
public struct BatchMeasurements: Equatable, Sendable, CustomStringConvertible {
    /// Records in the batch as it arrived.
    public var recordsIn: Int
    /// Records dropped for a missing reading.
    public var missing: Int
    /// Records dropped as exact duplicates.
    public var duplicates: Int
    /// Records that passed the record gate (the batch's output).
    public var valid: Int
    /// Valid records labelled as failures.
    public var failures: Int
    /// PSI per reading against the reference profile; empty when drift was not judged.
    public var psi: [Reading: Double]
    /// The checks skipped and why, e.g. `drift not judged: reference profile 3000 of 5000 records`.
    public var notJudged: [String]

    /// `missing / recordsIn` (0 for an empty batch).
    public var dropRate: Double { recordsIn == 0 ? 0 : Double(missing) / Double(recordsIn) }
    /// `failures / valid`, nil without valid records.
    public var labelRate: Double? { valid == 0 ? nil : Double(failures) / Double(valid) }
    /// The reading with the largest PSI, if drift was judged.
    public var largestPSI: (reading: Reading, psi: Double)? {
        ReferenceProfile.readings.compactMap { reading in psi[reading].map { (reading, $0) } }
            .max { $0.1 < $1.1 }
    }

    public init(recordsIn: Int, missing: Int, duplicates: Int, valid: Int, failures: Int,
                psi: [Reading: Double] = [:], notJudged: [String] = []) {
        self.recordsIn = recordsIn
        self.missing = missing
        self.duplicates = duplicates
        self.valid = valid
        self.failures = failures
        self.psi = psi
        self.notJudged = notJudged
    }

    /// One line, e.g. `1000 records in, 2 missing, 0 duplicates; failure-label rate 0.05; largest PSI 0.01 (vibration)`.
    public var description: String {
        var parts = ["\(recordsIn) records in, \(missing) missing, \(duplicates) duplicates"]
        if let labelRate { parts.append("failure-label rate \(GatedTransformer.decimal(labelRate, places: 2))") }
        if let largest = largestPSI {
            parts.append("largest PSI \(GatedTransformer.decimal(largest.psi, places: 2)) (\(largest.reading))")
        }
        return (parts + notJudged).joined(separator: "; ")
    }
}
