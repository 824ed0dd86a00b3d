import Logging
import Pipeline
import Wire

/// The loader's loop: a thin driver of its `Sink`. It gathers the batches the machine admits
/// into a group, commits the group with the checkpoint in one transaction, and sends what the
/// machine returns.
struct LoaderDriver {
    let context: WorkerContext
    let logger: Logger
    let warehouse: Warehouse
    let runID: String?
    let isJob: Bool
    let faults: FaultInjection
    var trouble: WarehouseTrouble
    var sink: Sink
    var input: DataChannel
    /// The transformer state the last commit checkpointed: what a poison pill is quarantined with.
    var lastWindowState: [UInt8]
    var counters: [String: Int64]
    var progress = ProgressReporter(stage: "load", counter: "rows_loaded")
    /// Frames read but not applied yet: the group was full.
    var held: [Frame] = []
    var isBlocked = false

    /// A group to commit: the batches, what their records dropped, and the poison pill among them.
    struct Group {
        var batches: [Warehouse.PendingBatch] = []
        var dropped = 0
        /// A batch this loader quarantines as its own poison pill: the chain halts once it is committed.
        var ownPill: UInt64?
    }

    /// One turn: the batches waiting, in order, committed together; then the end of the stream once loaded.
    mutating func turn() {
        var frames = held
        held = []
        do { frames += try input.receive() } catch { workerFail("loader: \(error)") }
        let group = gather(frames)
        if !group.batches.isEmpty { commit(group) }
        counters["committed_batch"] = Int64(sink.committed)
        flow()
        progress.report(counters, context: context)
        if let end = sink.streamLoadedNow() { streamLoaded(end) }
    }

    /// The next batches in order, as the sink admits them; what does not fit in the group is held.
    private mutating func gather(_ frames: [Frame]) -> Group {
        var group = Group()
        for (position, frame) in frames.enumerated() {
            if !sink.hasRoom, frame.kind == .transformedBatch || frame.kind == .quarantinedBatch {
                held = Array(frames[position...])
                break
            }
            switch frame.kind {
            case .transformedBatch:
                let transformed: TransformedBatch
                do { transformed = try TransformedBatch(decoding: frame.payload) } catch {
                    workerFail("loader: batch frame \(frame.sequence): \(error)")
                }
                switch admit(transformed.batch.batchID) {
                case .apply:
                    group.batches.append(Warehouse.PendingBatch(batch: transformed.batch, dropped: transformed.dropped + transformed.rejected,
                                                                windowState: transformed.windowState))
                    group.dropped += transformed.dropped
                case .quarantinePoisonPill(let evidence):
                    group.batches.append(LoaderWorker.poisonPill(transformed, evidence: evidence, windowState: lastWindowState))
                    group.ownPill = transformed.batch.batchID
                case .acknowledgeAgain, .dropDuplicate, .requestResend, .dropAhead: continue
                }
            case .quarantinedBatch:
                let quarantined: QuarantinedBatch
                do { quarantined = try QuarantinedBatch(decoding: frame.payload) } catch {
                    workerFail("loader: quarantined batch frame \(frame.sequence): \(error)")
                }
                let id = quarantined.batch.batchID
                // Already quarantined: a poison pill here is committed as it is.
                guard admitsApplied(id) else { continue }
                guard let action = QuarantineAction(rawValue: quarantined.action) else {
                    workerFail("loader: quarantined batch \(id) (frame \(frame.sequence)): unknown action '\(quarantined.action)'")
                }
                // Every record of the batch goes to quarantine, the dropped ones included.
                group.batches.append(Warehouse.PendingBatch(
                    batch: RecordBatch(batchID: id, position: quarantined.batch.position, records: []),
                    dropped: 0, windowState: quarantined.windowState, extracted: quarantined.batch.records.count,
                    quarantine: Quarantine(gate: quarantined.gate, action: action, reason: quarantined.reason,
                                           evidence: quarantined.evidence.isEmpty ? nil : quarantined.evidence,
                                           records: quarantined.batch.records)))
            case .endOfStream:
                do { sink.streamEnded(try EndOfStream(decoding: frame.payload)) } catch {
                    workerFail("loader: end-of-stream frame \(frame.sequence): \(error)")
                }
            default:
                workerFail("loader: unexpected \(frame.kind.name) frame \(frame.sequence) on its input")
            }
        }
        return group
    }

    /// The sink's decision on batch `id`; an acknowledgement or a re-send request it asks for is
    /// sent at once (a failure to send it is not the batch's: the next one asks again).
    private mutating func admit(_ id: UInt64) -> BatchSequencer.Admission {
        let (admission, sends) = sink.admit(id)
        for message in sends { try? input.send(message) }
        return admission
    }

    /// Whether batch `id` is admitted to the group (as the next batch, poison pill or not).
    private mutating func admitsApplied(_ id: UInt64) -> Bool {
        switch admit(id) {
        case .apply, .quarantinePoisonPill: true
        case .acknowledgeAgain, .dropDuplicate, .requestResend, .dropAhead: false
        }
    }

    /// `records_in`/`records_out` for `cidp status`: records that reached the warehouse
    /// (loaded, duplicate or quarantined), and fact rows loaded.
    mutating func flow() {
        counters["records_in"] = counters["rows_loaded", default: 0] + counters["duplicates", default: 0]
            + counters["quarantined", default: 0]
        counters["records_out"] = counters["rows_loaded", default: 0]
    }
}
