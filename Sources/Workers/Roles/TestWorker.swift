import Posix
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The `test` role: a worker that can be told to misbehave in every way the supervisor must
/// handle, so each behaviour is tested on a real process.
///
/// Options (all times in milliseconds, counted from the start of the process):
/// `--ready-after MS`, `--never-ready`, `--exit-after MS`, `--exit-code N`,
/// `--crash-after MS` (abort: SIGABRT), `--hang-after MS` (stops heartbeating and sleeps),
/// `--allocate-mb-per-tick N` (allocates and touches N MiB every tick, without bound),
/// `--ignore-sigterm`, `--degraded-after MS REASON`, `--record FILE` (appends
/// `start|ready|term NAME PID` lines; with `--record-timestamps` each line ends with the
/// CLOCK_MONOTONIC time in nanoseconds, for benchmarks), `--crash-if-exists FILE` (exit 3 once
/// ready while FILE exists), `--flood-output` (writes to stdout without pause once ready),
/// `--produce N` (writes frames numbered 0..<N to its output channel, five per tick),
/// `--consume FILE` (reads its input channel and appends `got VALUE PID` per frame),
/// `--halt-after MS REASON` (once ready, sends `halted(REASON)` once, as an integrity gate would,
/// then keeps heartbeating until SIGTERM; not in a resumed start, `CIDP_RESUMED=1`: the operator
/// has dealt with it), `--working ITEM` (once ready, reports `working(ITEM)`),
/// `--crash-on-item` (with `--working`: right after reporting the item, prints
/// `test worker NAME: crashing on ITEM` on stderr and aborts, unless `CIDP_POISON_ITEM` is that
/// item: then appends `poison ITEM EVIDENCE` to the record file and runs on normally),
/// `--record-resumed` (appends `resumed NAME PID` to the record file at start when `CIDP_RESUMED=1`).
public struct TestWorker {
    public struct Options: Equatable {
        var readyAfter: Int64 = 0
        var neverReady = false
        var exitAfter: Int64?
        var exitCode: Int32 = 0
        var crashAfter: Int64?
        var hangAfter: Int64?
        var allocateMegabytesPerTick = 0
        var ignoreSIGTERM = false
        var degradedAfter: Int64?
        var degradedReason = "told to report trouble"
        var recordFile: String?
        var recordsTimestamps = false
        var crashIfExists: String?
        var floodsOutput = false
        /// Frames to write to the output channel, five per tick, numbered from 0.
        var produceCount = 0
        /// Where to append `got VALUE PID` for each frame read from the input channel.
        var consumeRecord: String?
        var haltAfter: Int64?
        var haltReason = ""
        /// The item reported with `working` once ready.
        var workingItem: String?
        var crashesOnItem = false
        var recordsResumed = false
    }


    let options: Options

    public init(arguments: [String]) throws(WorkerUsageError) {
        var options = Options()
        var remaining = arguments[...]
        func value(_ flag: String) throws(WorkerUsageError) -> String {
            guard let next = remaining.popFirst() else { throw WorkerUsageError(description: "\(flag) needs a value") }
            return next
        }
        func milliseconds(_ flag: String) throws(WorkerUsageError) -> Int64 {
            let text = try value(flag)
            guard let number = Int64(text), number >= 0 else {
                throw WorkerUsageError(description: "\(flag) expects milliseconds >= 0, got '\(text)'")
            }
            return number
        }
        while let flag = remaining.popFirst() {
            switch flag {
            case "--ready-after": options.readyAfter = try milliseconds(flag)
            case "--never-ready": options.neverReady = true
            case "--exit-after": options.exitAfter = try milliseconds(flag)
            case "--exit-code":
                let text = try value(flag)
                guard let code = Int32(text), (0...255).contains(code) else {
                    throw WorkerUsageError(description: "--exit-code expects 0...255, got '\(text)'")
                }
                options.exitCode = code
            case "--crash-after": options.crashAfter = try milliseconds(flag)
            case "--hang-after": options.hangAfter = try milliseconds(flag)
            case "--allocate-mb-per-tick":
                let text = try value(flag)
                guard let count = Int(text), count > 0 else {
                    throw WorkerUsageError(description: "--allocate-mb-per-tick expects a positive integer, got '\(text)'")
                }
                options.allocateMegabytesPerTick = count
            case "--ignore-sigterm": options.ignoreSIGTERM = true
            case "--degraded-after":
                options.degradedAfter = try milliseconds(flag)
                options.degradedReason = try value(flag)
            case "--record": options.recordFile = try value(flag)
            case "--record-timestamps": options.recordsTimestamps = true
            case "--crash-if-exists": options.crashIfExists = try value(flag)
            case "--flood-output": options.floodsOutput = true
            case "--produce":
                let text = try value(flag)
                guard let count = Int(text), count > 0 else {
                    throw WorkerUsageError(description: "--produce expects a positive count of frames, got '\(text)'")
                }
                options.produceCount = count
            case "--consume": options.consumeRecord = try value(flag)
            case "--halt-after":
                options.haltAfter = try milliseconds(flag)
                options.haltReason = try value(flag)
            case "--working": options.workingItem = try value(flag)
            case "--crash-on-item": options.crashesOnItem = true
            case "--record-resumed": options.recordsResumed = true
            default: throw WorkerUsageError(description: "unknown option '\(flag)' for role test")
            }
        }
        if options.crashesOnItem, options.workingItem == nil {
            throw WorkerUsageError(description: "--crash-on-item needs --working ITEM")
        }
        self.options = options
    }

    /// What the script has done so far, carried from tick to tick.
    private struct Progress {
        var isReady = false
        var isDegraded = false
        var hasHalted = false
        var hasReportedItem = false
        var hoard: [UnsafeMutableRawPointer] = []
        var produced = 0
    }

    /// Runs until told to stop (SIGTERM) or until a scripted exit; never returns normally.
    public func run(context: WorkerContext) -> Never {
        if options.ignoreSIGTERM {
            signal(SIGTERM, SIG_IGN)
        } else {
            Termination.install()
        }
        record("start", context)
        if options.recordsResumed, context.isResumed { record("resumed", context) }
        let started = Posix.monotonicNow()
        var progress = Progress()
        var output = FrameWriter(fd: WireLayout.outputFD, channel: "\(context.name) output")
        // A new incarnation joins a stream mid-way: the first sequence it sees is its base.
        var input = FrameReader(fd: WireLayout.inputFD, channel: "\(context.name) input")
        if options.consumeRecord != nil { try? Posix.setNonblocking(WireLayout.inputFD) }
        let tick = min(context.heartbeatInterval, .milliseconds(20))
        while true {
            let elapsed = (Posix.monotonicNow() - started).milliseconds
            if Termination.isRequested {
                record("term", context)
                exit(0)
            }
            endIfScripted(elapsed: elapsed)
            report(elapsed: elapsed, &progress, context)
            if progress.isReady {
                work(&progress, &output, &input, context)
                if options.floodsOutput {
                    flood()
                    context.heartbeatIfDue()
                    continue
                }
            }
            context.heartbeatIfDue()
            Posix.nap(for: tick)
        }
    }

    /// Crashes, exits or hangs when the script says it is time.
    private func endIfScripted(elapsed: Int64) {
        if let crashAfter = options.crashAfter, elapsed >= crashAfter { abort() }
        if let exitAfter = options.exitAfter, elapsed >= exitAfter { exit(options.exitCode) }
        if let hangAfter = options.hangAfter, elapsed >= hangAfter {
            // Alive but stuck: no more heartbeats, no more work. Only SIGKILL ends this.
            while true { sleep(1000) }
        }
    }

    /// Says ready, degraded, working and halted, each once, when the script says so.
    private func report(elapsed: Int64, _ progress: inout Progress, _ context: WorkerContext) {
        if !progress.isReady, !options.neverReady, elapsed >= options.readyAfter {
            progress.isReady = true
            record("ready", context)
            context.ready()
            if let path = options.crashIfExists, access(path, F_OK) == 0 { exit(3) }
        }
        guard progress.isReady else { return }
        if !progress.isDegraded, let after = options.degradedAfter, elapsed >= after {
            progress.isDegraded = true
            context.reportHealth(degraded: options.degradedReason)
        }
        if !progress.hasReportedItem, let item = options.workingItem {
            progress.hasReportedItem = true
            context.reportWorking(on: item)
            if options.crashesOnItem { crashUnlessPoisoned(item, context) }
        }
        if !progress.hasHalted, !context.isResumed, let after = options.haltAfter, elapsed >= after {
            progress.hasHalted = true
            context.reportHalted(options.haltReason)
        }
    }

    /// One tick's work once ready: allocate, produce, consume.
    private func work(_ progress: inout Progress, _ output: inout FrameWriter, _ input: inout FrameReader, _ context: WorkerContext) {
        if options.allocateMegabytesPerTick > 0 {
            let size = options.allocateMegabytesPerTick << 20
            guard let block = malloc(size) else {
                workerFail("test worker: allocation of \(options.allocateMegabytesPerTick) MiB failed after \(progress.hoard.count) blocks", code: 4)
            }
            memset(block, 0x5A, size)
            progress.hoard.append(block)
        }
        // Five frames a tick; a send blocks when the channel is full: back-pressure, never a drop.
        for _ in 0..<5 where progress.produced < options.produceCount {
            var value = UInt64(progress.produced).littleEndian
            let payload = withUnsafeBytes(of: &value) { Array($0) }
            do { try output.send(kind: .recordBatch, payload: payload) } catch { exit(5) }
            progress.produced += 1
        }
        if options.consumeRecord != nil { consumeAvailable(&input, context) }
    }

    /// Writes a thousand lines without pause (blocking when the pipe is full).
    private func flood() {
        let line = Array("flood line from a test worker that never stops talking\n".utf8)
        for _ in 0..<1000 { Posix.writeFully(.standardOutput, line) }
    }

    /// Reads every frame waiting on the input channel and records its value; a bad frame exits 6.
    private func consumeAvailable(_ input: inout FrameReader, _ context: WorkerContext) {
        let frames: [Frame]
        do {
            switch try input.readAvailable() {
            case .frames(let received), .endOfFile(let received): frames = received
            }
        } catch {
            exit(6)
        }
        guard !frames.isEmpty, let path = options.consumeRecord else { return }
        var text = ""
        for frame in frames where frame.payload.count == 8 {
            let value = frame.payload.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            text += "got \(value) \(getpid())\n"
        }
        Self.append(text, to: path)
    }

    /// Crashes on `item` (a line on stderr first, for the supervisor's evidence) unless the
    /// supervisor said it is a poison pill: then records it and carries on.
    private func crashUnlessPoisoned(_ item: String, _ context: WorkerContext) {
        if let pill = context.poisonPill, pill.item == item {
            append("poison \(item) \(pill.evidence)\n")
            return
        }
        Posix.writeFully(.standardError, Array("test worker \(context.name): crashing on \(item)\n".utf8))
        abort()
    }

    private func record(_ event: String, _ context: WorkerContext) {
        let stamp = options.recordsTimestamps ? " \(Posix.monotonicNow().nanoseconds)" : ""
        append("\(event) \(context.name) \(getpid())\(stamp)\n")
    }

    /// Appends `text` to the record file, if there is one, in one write.
    private func append(_ text: String) {
        guard let path = options.recordFile else { return }
        Self.append(text, to: path)
    }

    /// Appends `text` to `path` (O_APPEND: lines of several processes never interleave).
    private static func append(_ text: String, to path: String) {
        guard let fd = try? Posix.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode: 0o644) else { return }
        Posix.writeFully(fd, Array(text.utf8))
        Posix.close(fd)
    }
}
