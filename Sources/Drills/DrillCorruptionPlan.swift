import Pipeline
import Wire
import Workers

/// The corruption drill's scenario for one seed, source size and page size, worked out before
/// the run from the simulator's own decisions: where the poison starts, the batch it first
/// lands in, and the malformed bodies the extractor must meet on the batches before it.
struct CorruptionPlan {
    /// 1 % of the records from `poisonFrom` on: a quarter of the poison is a flipped label
    /// alone, which no record check can see; at 1 % a batch of 1000 also holds about 7.5
    /// impossible readings (none: e^-7.5, 0.06 %), so the record gate stops the chain at the
    /// first poisoned batch. (Rare lone label flips are the promotion guard's business.)
    static let poisonRate = 0.01
    /// A quarter of the API's bodies cut mid-document. At the first 5 % a job that halts after
    /// three batches meets no malformed body at all in 0.95^3 = 86 % of seeds, and the fault
    /// proves nothing; at 25 % two clean batches meet one in 1 - 0.75^2 = 44 % of seeds, and for
    /// the others the plan moves the poison later until one is met (within 20 batches in all
    /// but 0.75^20 = 0.3 % of seeds). The extractor halts only on 10 malformed bodies in a row
    /// for one page: 0.25^10, 1e-6.
    static let malformedRate = 0.25
    /// Clean batches before the poison, at least. One would show that loading works at all; two
    /// also show the hand-off from batch to batch (rolling windows carried across the boundary,
    /// every gate passed on full batches — the batch gate judges batches of ≥ 500 records), so
    /// that "every batch before it is loaded" is checked on real rows, value for value, and the
    /// gate is seen to stop at the first poisoned batch rather than at the first batch it sees.
    static let minimumCleanBatches = 2
    /// How far the plan may move the poison to find a malformed body on a clean batch.
    static let maximumCleanBatches = 20

    let pageSize: Int
    /// Batches served clean of poison before it starts: the first `poisonFrom` records.
    let cleanBatches: Int
    /// Malformed bodies the simulator serves for each clean page before its intact one.
    let malformedPerCleanBatch: [Int]
    /// The faults `cidp up` gets, as parsed by the simulator.
    let faults: SimulatorFaults
    /// Every poisoned record of the source, by key, with its index.
    let poisoned: [RowKey: (index: Int, record: TelemetryRecord)]
    /// The first batch holding a poisoned record, if any.
    let firstPoisonedBatch: Int?

    /// The first record the poison may touch.
    var poisonFrom: Int { cleanBatches * pageSize }

    /// `--sim-fault` values: `poison=0.01@FROM`, `malformed=0.25`.
    var settings: [String] { Self.settings(poisonFrom: poisonFrom) }

    private static func settings(poisonFrom: Int) -> [String] {
        ["poison=\(poisonRate)@\(poisonFrom)", "malformed=\(malformedRate)"]
    }

    /// Malformed bodies the extractor is certain to be served before the poison.
    var malformedBeforePoison: Int { malformedPerCleanBatch.reduce(0, +) }

    /// The records of the batches before the first poisoned one.
    var cleanRecords: Int { ((firstPoisonedBatch ?? 1) - 1) * pageSize }

    /// The plan for `records` records of seed `seed` in pages of `pageSize`; nil when the source
    /// holds fewer than `minimumCleanBatches` + 1 pages (no room for the poisoned batch).
    /// - Throws: `SimulatorFaults.ParseError` if the settings do not parse (a bug here).
    init?(seed: UInt64, records: Int, pageSize: Int) throws {
        let pages = records / pageSize
        guard pages >= Self.minimumCleanBatches + 1 else { return nil }
        self.pageSize = pageSize
        let generator = TelemetryGenerator(seed: seed, count: records)
        var malformedOnly = SimulatorFaults()
        malformedOnly.malformedRate = Self.malformedRate
        // The fewest clean batches (≥ 2) on which the extractor must retry a malformed body, so
        // the retried page is one the drill then compares value for value; at most as many as
        // leave a full page for the poison.
        let limit = min(pages - 1, Self.maximumCleanBatches)
        let malformed = Self.malformedBodies(pages: limit, pageSize: pageSize, generator: generator, faults: malformedOnly)
        var clean = Self.minimumCleanBatches
        while clean < limit, malformed.prefix(clean).reduce(0, +) == 0 { clean += 1 }
        if malformed.prefix(clean).reduce(0, +) == 0 { clean = Self.minimumCleanBatches }
        cleanBatches = clean
        malformedPerCleanBatch = Array(malformed.prefix(clean))

        var faults = SimulatorFaults()
        for setting in Self.settings(poisonFrom: clean * pageSize) {
            faults.apply(try SimulatorFaults.parse(setting))
        }
        self.faults = faults
        // The simulator decides poison per (seed, record index): the same decisions, computed here.
        var poisoned: [RowKey: (index: Int, record: TelemetryRecord)] = [:]
        for index in 0..<records {
            if let record = generator.poisonedRecord(at: index, faults: faults) { poisoned[RowKey(record)] = (index, record) }
        }
        self.poisoned = poisoned
        firstPoisonedBatch = poisoned.values.map { $0.index / pageSize + 1 }.min()
    }

    /// The malformed bodies the simulator serves while one client reads pages 0..<`pages` in
    /// order, asking again for a page until its body is intact — what the extractor does — per
    /// page. The decisions are the simulator's own: its request-level faults depend on the
    /// request's number only, so the sequence up to any page is fixed for a seed, whatever the
    /// timing. Bodies are judged against the page served without the malformed fault.
    static func malformedBodies(pages: Int, pageSize: Int, generator: TelemetryGenerator,
                                faults: SimulatorFaults) -> [Int] {
        var intactFaults = faults
        intactFaults.malformedRate = 0
        let served = SensorSimService(generator: generator, faults: faults)
        let intact = SensorSimService(generator: generator, faults: intactFaults)
        var request: UInt64 = 0
        var counts: [Int] = []
        for page in 0..<pages {
            let query = [(name: "cursor", value: "\(page * pageSize)"), (name: "limit", value: "\(pageSize)")]
            func body(_ service: SensorSimService, _ number: UInt64) -> [UInt8] {
                service.respond(method: "GET", path: SensorSimService.telemetryPath, query: query, requestNumber: number).body
            }
            let want = body(intact, 0)
            var count = 0
            // Bounded: at rate 1 no body is ever intact (and the extractor halts after 10).
            while count < 1000, body(served, request) != want {
                count += 1
                request += 1
            }
            request += 1
            counts.append(count)
        }
        return counts
    }
}
