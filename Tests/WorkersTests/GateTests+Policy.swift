import Testing
import Wire
import Workers

/// `GatePolicy`: defaults, every key, and one-line errors for malformed values.
extension GateTests {
    @Test func defaultsAreTheDocumentedOnes() throws {
        let policy = try GatePolicy.parse([])
        #expect(policy == .default)
        #expect(policy.record == GatePolicy.RecordGate(onViolation: .halt, maxFutureSeconds: 3600))
        #expect(policy.batch == GatePolicy.BatchGate(onViolation: .halt, maxDropRate: 0.10, labelRateMin: 0, labelRateMax: 0.20,
                                                     minRecords: 500, maxPSI: 0.25, psiBins: 10, referenceRecords: 5000))
        #expect(GateName.allCases.allSatisfy { policy.action(for: $0) == .halt })
    }

    @Test func everyKeyParses() throws {
        let policy = try GatePolicy.parse([
            "record.on_violation=quarantine_and_continue", "record.max_future_s=60",
            "batch.on_violation=quarantine_and_continue", "batch.max_drop_rate=0.2", "batch.label_rate_min=0.01",
            "batch.label_rate_max=0.5", "batch.min_records=50", "batch.max_psi=0.1", "batch.psi_bins=20",
            "batch.reference_records=2000",
            "poison_pill.on_violation=quarantine_and_continue", "warehouse.on_violation=halt",
        ])
        #expect(policy.record == GatePolicy.RecordGate(onViolation: .quarantineAndContinue, maxFutureSeconds: 60))
        #expect(policy.batch == GatePolicy.BatchGate(onViolation: .quarantineAndContinue, maxDropRate: 0.2, labelRateMin: 0.01,
                                                     labelRateMax: 0.5, minRecords: 50, maxPSI: 0.1, psiBins: 20, referenceRecords: 2000))
        #expect(policy.action(for: .transport) == .halt && policy.action(for: .poisonPill) == .quarantineAndContinue)
        #expect(policy.action(for: .warehouse) == .halt)
    }

    @Test(arguments: [
        ("pipeline.on_violation=halt",
         "--gate 'pipeline.on_violation=halt': unknown gate 'pipeline' (expected one of transport, record, batch, warehouse, poison_pill)"),
        ("batch.max_psy=0.3",
         "--gate 'batch.max_psy=0.3': unknown key 'max_psy' for gate batch (expected on_violation, max_drop_rate, label_rate_min, label_rate_max, min_records, max_psi, psi_bins, reference_records)"),
        ("transport.on_violation=halt", "--gate 'transport.on_violation=halt': gate transport has no settings: every frame's checksum and sequence are always checked, a bad frame is never applied and is sent again"),
        ("batch.max_psi=abc", "--gate 'batch.max_psi=abc': batch.max_psi expects a finite number > 0, got 'abc'"),
        ("batch.max_psi=0", "--gate 'batch.max_psi=0': batch.max_psi expects a finite number > 0, got '0'"),
        ("batch.max_drop_rate=1.5", "--gate 'batch.max_drop_rate=1.5': batch.max_drop_rate expects a rate in 0...1, got '1.5'"),
        ("batch.label_rate_max=nan", "--gate 'batch.label_rate_max=nan': batch.label_rate_max expects a rate in 0...1, got 'nan'"),
        ("batch.psi_bins=1", "--gate 'batch.psi_bins=1': batch.psi_bins expects an integer in 2...100, got '1'"),
        ("batch.reference_records=99", "--gate 'batch.reference_records=99': batch.reference_records expects an integer in 100...100000, got '99'"),
        ("batch.min_records=0", "--gate 'batch.min_records=0': batch.min_records expects an integer in 1...1000000, got '0'"),
        ("record.max_future_s=-1", "--gate 'record.max_future_s=-1': record.max_future_s expects whole seconds in 0...3155760000, got '-1'"),
        ("record.on_violation=ignore", "--gate 'record.on_violation=ignore': record.on_violation expects halt or quarantine_and_continue, got 'ignore'"),
        ("batch", "--gate 'batch': expected GATE.KEY=VALUE, e.g. batch.max_psi=0.25"),
        ("max_psi=0.3", "--gate 'max_psi=0.3': expected GATE.KEY=VALUE, e.g. batch.max_psi=0.25"),
    ])
    func malformedGateValueIsOneLineNamingIt(_ value: String, _ message: String) {
        #expect(throws: WorkerUsageError.self) { try GatePolicy.parse([value]) }
        do {
            _ = try GatePolicy.parse([value])
        } catch {
            #expect(error.description == message)
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func labelRateMinAboveMaxIsRefused() {
        do {
            _ = try GatePolicy.parse(["batch.label_rate_min=0.3", "batch.label_rate_max=0.2"])
            Issue.record("min > max accepted")
        } catch {
            #expect(error.description == "--gate: batch.label_rate_min 0.3 is above batch.label_rate_max 0.2 (expected min <= max)")
        }
        // Above the default maximum, too.
        #expect(throws: WorkerUsageError.self) { try GatePolicy.parse(["batch.label_rate_min=0.5"]) }
    }

    @Test func aKeyGivenTwiceIsRefused() {
        do {
            _ = try GatePolicy.parse(["batch.max_psi=0.3", "batch.max_psi=0.2"])
            Issue.record("a repeated key accepted")
        } catch {
            #expect(error.description == "--gate 'batch.max_psi=0.2': batch.max_psi is given twice")
        }
    }
}
