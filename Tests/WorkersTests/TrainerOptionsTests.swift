import Testing
@testable import Workers

/// The trainer's `--model`, as `cidp up` checks it before anything starts.
@Suite struct TrainerOptionsTests {
    static let base = ["--db", "x.sqlite"]

    @Test func theForestIsTheDefaultAndCanBeNamed() throws {
        #expect(try TrainerWorker(arguments: Self.base).model == .forest)
        #expect(try TrainerWorker(arguments: Self.base + ["--model", "forest"]).model == .forest)
    }

    @Test(arguments: [
        ("boosted", "worker trainer: --model boosted needs the boosted-trees model, which this build does not have yet; use --model forest"),
        ("best", "worker trainer: --model best needs the boosted-trees model, which this build does not have yet; use --model forest"),
        ("tree", "worker trainer: --model expects one of forest, boosted, best, got 'tree'"),
    ])
    func aModelThisBuildCannotTrainIsOneLineNamingIt(_ choice: String, _ message: String) {
        do {
            _ = try TrainerWorker(arguments: Self.base + ["--model", choice])
            Issue.record("--model \(choice) accepted")
        } catch {
            #expect(error.description == message)
        }
    }
}
