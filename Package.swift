// swift-tools-version:6.0
import PackageDescription

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "cidp",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "cidp", targets: ["cidp"]),
        .executable(name: "cidp-bench", targets: ["cidp-bench"]),
        .executable(name: "cidp-sensor-sim", targets: ["cidp-sensor-sim"]),
        .executable(name: "cidp-predictor", targets: ["cidp-predictor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The sensor simulator's HTTP/1.1 server: small, no SwiftNIO, quick to build.
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.0"),
        // The root's /metrics: the Prometheus text format, rendered by swift-prometheus (a
        // swift-metrics backend) rather than by hand.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C leaves.
        .target(name: "CShims"),
        // A test VFS that fails the N-th open, write or sync (enabled only by CIDP_FAULT_VFS).
        .target(name: "CSQLiteFaults", dependencies: ["CSQLite"]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // Framing shared by the supervisor and the workers, over Posix's descriptors and errno.
        .target(name: "Wire", dependencies: ["Posix"]),

        // The one system-call layer: typed errno, descriptors, signals, spawn, sockets, clocks,
        // sleeping, the environment; each wrapper names its C call and retries EINTR in one place.
        .target(name: "Posix", dependencies: ["CShims"]),

        // What flows between the pipeline's stages (records, batches, acks, end of stream) and
        // the hand-off between them as pure state machines. The engine never sees it.
        .target(name: "Pipeline", dependencies: ["Wire"]),

        // The one sanitiser of text the world wrote, before an operator reads it: pure Swift.
        .target(name: "OperatorText"),

        // How every log handler renders swift-log metadata (the root's and the workers'), and the
        // JSON log line they all write and read.
        .target(name: "LogFormat", dependencies: ["CivilCalendar", logging]),

        // The one calendar (days from 1970-01-01 and back): log lines, the warehouse's timestamp
        // text, the API's JSON and its parser. Pure Swift, no dependencies.
        .target(name: "CivilCalendar"),

        // The engine: knows nothing of sensors or SQLite.
        .target(name: "Supervisor", dependencies: [
            "Wire", "Posix", "LogFormat", "OperatorText", "PortableRandom", logging,
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),

        // The root's Prometheus endpoint (docs/METRICS.md): a snapshot the supervisor's loop
        // publishes, rendered on the listener's own thread. Knows nothing of sensors or SQLite.
        .target(name: "TreeMetrics", dependencies: [
            "Supervisor", "Posix", .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // The pipeline roles and the test worker.
        .target(name: "Workers", dependencies: ["Pipeline", "Wire", "Posix", "CivilCalendar", "CSQLite", "CSQLiteFaults", "CCurl", "Forest", "LogFormat", "PortableRandom", logging]),

        // The failure-prediction model: a Random Forest in pure Swift, no dependencies.
        .target(name: "Forest", dependencies: ["PortableRandom"]),
        // Reproducible randomness (SplitMix64, normals, a portable log) for the simulator and the forest.
        .target(name: "PortableRandom"),

        // FlyingFox as the two roles that serve HTTP run it: requests in flight counted, an
        // orderly stop, its log in swift-log. Knows no role.
        .target(name: "HTTPServing", dependencies: [logging, .product(name: "FlyingFox", package: "FlyingFox")]),

        // The sensor API simulator's HTTP server, in its own executable: FlyingFox brings in
        // FoundationNetworking and with it libcurl's ~30 shared libraries, which would add
        // about 5 ms to the exec of every worker if it were linked into `cidp`.
        // `cidp worker sensor-sim` execs `cidp-sensor-sim` (same pid, descriptors, environment).
        .target(name: "SensorSimulator", dependencies: [
            "Workers", "Wire", "Posix", "HTTPServing", logging, .product(name: "FlyingFox", package: "FlyingFox"),
        ]),
        .executableTarget(name: "cidp-sensor-sim", dependencies: ["SensorSimulator", "Workers", logging]),

        // The prediction API (`predictor` role), in its own executable for the same reason as the
        // simulator: FlyingFox stays out of `cidp`. `cidp worker predictor` execs `cidp-predictor`.
        // (A hand-written HTTP/1.1 server like the root's metrics listener would spare the exec,
        // but the predictor is one long-lived process, takes JSON bodies from clients, and the
        // simulator already trusts FlyingFox with request parsing.)
        .target(name: "Predictor", dependencies: [
            "Workers", "Forest", "CivilCalendar", "Posix", "HTTPServing", logging, .product(name: "FlyingFox", package: "FlyingFox"),
        ]),
        .executableTarget(name: "cidp-predictor", dependencies: ["Predictor", "Workers", logging]),

        // The continuity drills (`cidp drill`) and their harness — a spawned process with its
        // output in files, deadlines, a sandbox, a tree under test — which the integration tests
        // reuse; the reference tables stay computed independently on each side.
        // What each role's table in a policy holds: joins the policy parser (Supervisor), which
        // knows no role, and the roles (Workers), which know no policy.
        .target(name: "PolicyRoles", dependencies: ["Supervisor", "Workers"]),

        .target(name: "Drills", dependencies: ["Supervisor", "Posix", "Workers", "PolicyRoles", "Pipeline", "Wire", "LogFormat", "OperatorText"]),

        .executableTarget(name: "cidp", dependencies: ["Supervisor", "Posix", "TreeMetrics", "Workers", "Drills", "PolicyRoles", "Wire", "LogFormat", "CivilCalendar",
                                                       "OperatorText", "PortableRandom", logging,
                                                       argumentParser]),

        // Side-by-side benchmarks (docs/BENCHMARKS.md).
        .executableTarget(name: "cidp-bench", dependencies: ["Supervisor", "Posix", "Workers", "Pipeline", "Forest", "Wire", "CivilCalendar", "CShims"]),

        // Sets how many test cases run at once before Swift Testing starts (a C constructor).
        .target(name: "TestRunnerSettings", path: "Tests/TestRunnerSettings"),
        .testTarget(name: "WireTests", dependencies: ["Wire", "Posix"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Wire"]),
        .testTarget(name: "LogFormatTests", dependencies: ["LogFormat", "PortableRandom"]),
        .testTarget(name: "OperatorTextTests", dependencies: ["OperatorText"]),
        .testTarget(name: "ForestTests", dependencies: ["Forest"]),
        .testTarget(name: "SupervisorTests", dependencies: ["Supervisor", "Posix", "Wire", "LogFormat", "cidp", "PolicyRoles", "Workers", logging]),
        .testTarget(name: "TreeMetricsTests", dependencies: ["TreeMetrics", "Supervisor", "Posix"]),
        .testTarget(name: "WorkersTests", dependencies: ["Workers", "Pipeline", "Forest", "Posix", "Wire", "LogFormat", logging]),
        .testTarget(name: "SensorSimulatorTests", dependencies: ["SensorSimulator", "Workers", "Pipeline", "Wire", logging]),
        .testTarget(name: "PredictorTests", dependencies: ["Predictor", "Workers", "Forest"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Supervisor", "Posix", "Workers", "Pipeline", "Forest", "Wire", "CShims", "CSQLite",
                                                            "OperatorText", "LogFormat", "Drills", "TestRunnerSettings", "TreeMetrics", "cidp", "cidp-sensor-sim",
                                                            "cidp-predictor"]),
    ]
)
