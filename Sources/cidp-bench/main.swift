// cidp-bench: side-by-side measurements for docs/BENCHMARKS.md, all in one run.
//
//   swift build -c release && .build/release/cidp-bench [--iterations N] [--idle-seconds S]
//
// 1. Raw spawn-to-ready: posix_spawn of `cidp worker test` wired as the supervisor wires it,
//    until the worker's `ready` frame arrives (and until its recorded ready time).
// 2. Crash-to-ready under `cidp up`: kill -9 of the running test worker until its replacement
//    is ready (the replacement records its ready time with CLOCK_MONOTONIC, the same clock
//    this process reads before the kill, so the poll interval does not enter the figure).
// 3. The root's idle CPU and RSS with the default tree running.
import CShims
import Posix
import Foundation
import Supervisor
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

// The raw-insert baseline runs in this process: configured as the loader is, so the ratio
// compares the loader's work with the same SQLite, not with a differently tuned one.
Database.turnOffMemoryStatistics()

func monotonicNanoseconds() -> Int64 { Posix.monotonicNow().nanoseconds }

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("cidp-bench: \(message)\n".utf8))
    exit(2)
}

var iterations = 200
var idleSeconds = 10
var etlRecords: [Int] = []
var comparePython = 0
var arguments = CommandLine.arguments.dropFirst()
let mode = ["etl", "forest", "backup", "parse", "upgrade", "models"].contains(arguments.first ?? "") ? arguments.removeFirst() : "supervision"
var sklearn = false
var jobRecords = 0
var repeats = 5
var rounds = 15
/// `--metrics on`: the trees under test serve /metrics (a scrape every 15 s while idle, as
/// Prometheus' default interval); `off` (the default): `[metrics] listen = ""`.
var metricsOn = false
/// `cidp-bench models --model forest|boosted|best`: the trainer's `model` key.
var trainerModel = "forest"
while let flag = arguments.popFirst() {
    switch flag {
    case "--metrics":
        switch arguments.popFirst() {
        case "on": metricsOn = true
        case "off": metricsOn = false
        default: fail("--metrics takes on or off")
        }
    case "--records": etlRecords.append(arguments.popFirst().flatMap(Int.init) ?? { fail("--records needs a number") }())
    case "--sklearn": sklearn = true
    case "--model":
        trainerModel = arguments.popFirst() ?? ""
        guard ["forest", "boosted", "best"].contains(trainerModel) else { fail("--model takes forest, boosted or best") }
    case "--job-records": jobRecords = arguments.popFirst().flatMap(Int.init) ?? { fail("--job-records needs a number") }()
    case "--python-records": comparePython = arguments.popFirst().flatMap(Int.init) ?? { fail("--python-records needs a number") }()
    case "--repeats": repeats = arguments.popFirst().flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? { fail("--repeats needs a positive number") }()
    case "--iterations": iterations = arguments.popFirst().flatMap(Int.init) ?? { fail("--iterations needs a number") }()
    case "--rounds": rounds = arguments.popFirst().flatMap(Int.init) ?? { fail("--rounds needs a number") }()
    case "--idle-seconds": idleSeconds = arguments.popFirst().flatMap(Int.init) ?? { fail("--idle-seconds needs a number") }()
    default: fail("unknown option '\(flag)'; expected [etl|forest|backup|parse|upgrade|models] --iterations N, --idle-seconds S, --metrics on|off, --records N, --model forest|boosted|best, --python-records N, --repeats N, --rounds R")
    }
}

for count in etlRecords + [jobRecords, comparePython] where !(0...TelemetryGenerator.maximumCount).contains(count) {
    fail("record counts must be 0...\(TelemetryGenerator.maximumCount) (the simulator's hours end in 2022), got \(count)")
}

let binary = URL(fileURLWithPath: Posix.executablePath()).deletingLastPathComponent().appendingPathComponent("cidp").path
guard FileManager.default.isExecutableFile(atPath: binary) else { fail("no cidp binary beside this one at \(binary)") }
let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("cidp-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: workspace) }
signal(SIGPIPE, SIG_IGN)

/// Reads the `ready` lines (`ready NAME PID NANOS`) of a record file.
func readyTimes(_ path: String) -> [Int32: Int64] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    var result: [Int32: Int64] = [:]
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ")
        if fields.count == 4, fields[0] == "ready", let pid = Int32(fields[2]), let time = Int64(fields[3]) { result[pid] = time }
    }
    return result
}

if mode == "forest" {
    runForestBench(rows: etlRecords.isEmpty ? [100_000, 1_000_000] : etlRecords, withSklearn: sklearn, jobRecords: jobRecords)
    exit(0)
}
if mode == "models" {
    runModelsBench(records: etlRecords.isEmpty ? [100_000, 1_000_000] : etlRecords, model: trainerModel)
    exit(0)
}
if mode == "backup" {
    runBackupBench(records: etlRecords.isEmpty ? [100_000, 1_000_000] : etlRecords, repeats: repeats)
    exit(0)
}
if mode == "parse" {
    ParseBench.run(records: etlRecords.first ?? 100_000, rounds: max(1, rounds))
    exit(0)
}
if mode == "upgrade" {
    runUpgradeBench(records: etlRecords.first ?? 1_000_000, repeats: repeats)
    exit(0)
}
if mode == "etl" {
    runEtlBench(records: etlRecords.isEmpty ? [100_000, 1_000_000] : etlRecords, pythonRecords: comparePython)
    exit(0)
}

// MARK: 1. Raw spawn-to-ready

var rawFrame: [Double] = []
var rawRecorded: [Double] = []
var rawReaped: [Double] = []
let rawRecord = workspace + "/raw.record"
let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
var environment = ProcessInfo.processInfo.environment
environment["CIDP_WORKER_NAME"] = "raw"
environment["CIDP_SUPERVISOR_PID"] = "\(getpid())"
environment["CIDP_HEARTBEAT_MS"] = "1000"
let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
let rawArgv = [binary, "worker", "test", "--record", rawRecord, "--record-timestamps"]
let cArgv = rawArgv.map { strdup($0) } + [nil]

/// One raw spawn of a worker until its `ready` frame, then its kill and reap.
@MainActor func measureRawSpawn() throws {
    let pair = try Posix.seqpacketPair()
    let fds = [pair.0, pair.1]
    var pid: pid_t = 0
    let sources: [Int32] = [devNull, devNull, devNull, fds[1].rawValue]
    let targets: [Int32] = [0, 1, 2, 3]
    let start = monotonicNanoseconds()
    let result = cshims_spawn(&pid, binary, cArgv, cEnvironment, sources, targets, 4)
    guard result == 0 else { fail("posix_spawn: \(Errno(rawValue: result))") }
    Posix.close(fds[1])
    var reader = FrameReader(fd: fds[0], channel: "raw control")
    guard let frame = try reader.read(), case .ready = try ControlMessage(frame: frame) else { fail("raw worker sent no ready") }
    let received = monotonicNanoseconds()
    rawFrame.append(Double(received - start) / 1e6)
    let killedAt = monotonicNanoseconds()
    kill(pid, SIGKILL)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    rawReaped.append(Double(monotonicNanoseconds() - killedAt) / 1e6)
    Posix.close(fds[0])
    if let recorded = readyTimes(rawRecord)[pid] { rawRecorded.append(Double(recorded - start) / 1e6) }
}

// MARK: 2. Crash-to-ready under the supervisor, interleaved with 1.

func startSupervisor(policy: String, name: String) -> (Process, RunDirectory) {
    let policyPath = workspace + "/\(name).toml"
    try! policy.write(toFile: policyPath, atomically: true, encoding: .utf8)
    let run = RunDirectory(path: workspace + "/run-\(name)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["up", "--policy", policyPath, "--run-dir", run.path, "--log-level", "error"]
    process.currentDirectoryURL = URL(fileURLWithPath: workspace)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try! process.run()
    let deadline = monotonicNanoseconds() + 20_000_000_000
    while monotonicNanoseconds() < deadline {
        if let reply = try? ControlClient(runDirectory: run).send(.status), let tree = reply.tree,
           !tree.workers.isEmpty, tree.workers.allSatisfy({ $0.state == "running" }) {
            return (process, run)
        }
        Posix.sleep(for: .microseconds(2000))
    }
    fail("the supervisor for \(name) did not become ready")
}

func stopSupervisor(_ process: Process, _ run: RunDirectory) {
    _ = try? ControlClient(runDirectory: run).send(.stop, waitForExit: true)
    process.waitUntilExit()
}

let crashRecord = workspace + "/crash.record"
let crashPolicy = """
[supervisor]
intensity = 1000000
period_ms = 1000
children = ["victim"]
[logging]
dir = "\(workspace)/logs"
console_level = "error"
[workers.victim]
role = "test"
args = ["--record", "\(crashRecord)", "--record-timestamps"]
[workers.victim.backoff]
initial_ms = 0
jitter = 0.0
"""
/// The `[metrics]` table of the trees under test, and the port they serve on when on.
let metricsPort: UInt16 = metricsOn ? ((try? Posix.freeLoopbackPort()) ?? 0) : 0
let metricsTable = "\n[metrics]\nlisten = \"\(metricsOn ? "127.0.0.1:\(metricsPort)" : "")\"\n"

/// GET /metrics once (the bench as a Prometheus scraper); returns the body's size.
func scrapeMetrics(port: UInt16) -> Int {
    guard let fd = try? Posix.connectTCP(host: "127.0.0.1", port: port) else { return 0 }
    defer { Posix.close(fd) }
    guard (try? Posix.sendAll(fd, Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))) != nil else { return 0 }
    var total = 0
    while let bytes = Posix.readSome(fd, capacity: 65536) { total += bytes.count }
    return total
}

var crashToReady: [Double] = []
/// `cidp upgrade victim` (to the same binary) → the replacement's ready, interleaved with the crashes.
var upgradeToReady: [Double] = []
do {
    let (process, run) = startSupervisor(policy: crashPolicy + metricsTable, name: "crash")
    var current = readyTimes(crashRecord).keys.max()!
    // Interleaved with the raw spawns, so that drift in the machine's load affects both alike.
    for _ in 0..<iterations {
        try measureRawSpawn()
        let start = monotonicNanoseconds()
        kill(current, SIGKILL)
        var replacement: (Int32, Int64)?
        let deadline = start + 10_000_000_000
        while replacement == nil && monotonicNanoseconds() < deadline {
            // The figure is the replacement's own timestamp, so polling slowly costs no accuracy
            // and leaves the cores to the supervisor and the worker.
            if let found = readyTimes(crashRecord).first(where: { $0.value > start }) { replacement = (found.key, found.value) }
            else { Posix.sleep(for: .microseconds(2000)) }
        }
        guard let (pid, readyAt) = replacement else { fail("no replacement became ready within 10 s") }
        crashToReady.append(Double(readyAt - start) / 1e6)
        current = pid
        // Wait until the supervisor, too, has seen it ready, so the next kill hits a running child.
        while (try? ControlClient(runDirectory: run).send(.status))?.tree?.find("victim")?.state != "running" { Posix.sleep(for: .microseconds(2000)) }

        // An upgrade of the same worker: an orderly stop (SIGTERM, the test worker exits at once)
        // and a start; the request returns once the supervisor has seen it ready.
        let asked = monotonicNanoseconds()
        guard (try? ControlClient(runDirectory: run).send(.upgrade("victim", executable: nil)))?.ok == true else {
            fail("cidp upgrade victim failed")
        }
        guard let upgraded = readyTimes(crashRecord).first(where: { $0.value > asked }) else { fail("no upgraded victim recorded ready") }
        upgradeToReady.append(Double(upgraded.value - asked) / 1e6)
        current = upgraded.key
    }
    stopSupervisor(process, run)
}

// MARK: 3. Idle root with the default tree

func cpuTicks(_ pid: Int32) -> Int64 {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
    return (Int64(fields[11]) ?? 0) + (Int64(fields[12]) ?? 0)  // utime + stime
}

func rssKilobytes(_ pid: Int32) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

// The default tree's shape, heartbeats and watchdogs, with test workers in the pipeline roles'
// places: the real roles finish their job and stop, and an idle tree is what is measured here.
let idlePolicy = defaultPolicyText
    .replacingOccurrences(of: "dir = \"logs\"", with: "dir = \"\(workspace)/logs\"")
    .replacingOccurrences(of: #"role = "[a-z-]+""#, with: #"role = "test""#, options: .regularExpression)
    .replacingOccurrences(of: #"args = \[[^\]]*\]"#, with: "", options: .regularExpression)
    // The pipeline roles' own tables (ranges, gates): the test role has none.
    .replacingOccurrences(of: #"\[workers\.[a-z-]+\.(ranges|gates)[^\]\n]*\][^\n]*\n([^\n\[][^\n]*\n)*"#, with: "",
                          options: .regularExpression)
    .replacingOccurrences(of: "# listen = \"127.0.0.1:9464\"", with: metricsTable.split(separator: "\n").last.map(String.init) ?? "")
let (idle, idleRun) = startSupervisor(policy: idlePolicy, name: "idle")
let ticksBefore = cpuTicks(idle.processIdentifier)
let wallBefore = monotonicNanoseconds()
var scrapedBytes = 0
if metricsOn {
    // A scrape at once, then every 15 s.
    var elapsed = 0
    while elapsed < idleSeconds {
        scrapedBytes = scrapeMetrics(port: metricsPort)
        let pause = min(15, idleSeconds - elapsed)
        sleep(UInt32(pause))
        elapsed += pause
    }
    if scrapedBytes == 0 { fail("no answer from the idle tree's /metrics on port \(metricsPort)") }
} else {
    sleep(UInt32(idleSeconds))
}
let ticksAfter = cpuTicks(idle.processIdentifier)
let wallSeconds = Double(monotonicNanoseconds() - wallBefore) / 1e9
let idleCPU = Double(ticksAfter - ticksBefore) / Double(sysconf(Int32(_SC_CLK_TCK))) / wallSeconds * 100
let idleRSS = rssKilobytes(idle.processIdentifier)
stopSupervisor(idle, idleRun)

// MARK: Report

func row(_ name: String, _ values: [Double]) -> String {
    String(format: "| %@ | %d | %.2f | %.2f |", name, values.count, median(values), percentile(values, 0.9))
}
print("| measurement | n | median ms | p90 ms |")
print("| --- | --- | --- | --- |")
print(row("raw spawn → ready frame received", rawFrame))
print(row("raw spawn → worker ready (recorded)", rawRecorded))
print(row("raw kill -9 → reaped (the old process's teardown)", rawReaped))
print(row("kill -9 → replacement ready (recorded), under cidp up", crashToReady))
print(row("upgrade request → new process ready (recorded), under cidp up", upgradeToReady))
print("")
print(String(format: "crash-to-ready / raw spawn-to-ready (medians, recorded): %.2f", median(crashToReady) / median(rawRecorded)))
print(String(format: "upgrade-to-ready / crash-to-ready (medians): %.2f", median(upgradeToReady) / median(crashToReady)))
print(String(format: "root idle with the default tree: %.3f %% CPU over %.0f s, RSS %d KiB", idleCPU, wallSeconds, idleRSS))
print(metricsOn ? "metrics on: /metrics scraped every 15 s (\(scrapedBytes) bytes a scrape)" : "metrics off ([metrics] listen = \"\")")
