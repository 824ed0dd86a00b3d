import Forest
import Testing
@testable import Workers

/// The trainer's `--model`, as `cidp up` checks it before anything starts.
@Suite struct TrainerOptionsTests {
    static let base = ["--db", "x.sqlite"]

    @Test func theForestIsTheDefaultAndEachChoiceNamesTheKindsItFits() throws {
        #expect(try TrainerWorker(arguments: Self.base).model == .forest)
        #expect(try TrainerWorker(arguments: Self.base + ["--model", "forest"]).model.kinds == [.forest])
        #expect(try TrainerWorker(arguments: Self.base + ["--model", "boosted"]).model.kinds == [.boosted])
        #expect(try TrainerWorker(arguments: Self.base + ["--model", "best"]).model.kinds == [.forest, .boosted])
    }

    @Test func anUnknownModelIsOneLineNamingTheChoices() {
        do {
            _ = try TrainerWorker(arguments: Self.base + ["--model", "tree"])
            Issue.record("--model tree accepted")
        } catch {
            #expect(error.description == "worker trainer: --model expects one of forest, boosted, best, got 'tree'")
        }
    }
}
