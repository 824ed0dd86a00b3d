import Pipeline
import Testing

@Suite struct WorkItemTests {
    @Test func itemsReadBackExactlyAsTheyAreWritten() {
        for item in [WorkItem.batch(0), .batch(17), .batch(.max), .batches(3...5), WorkItem(first: 9, last: 9)] {
            #expect(WorkItem(item.description) == item)
        }
        #expect(WorkItem(first: 9, last: 9) == .batch(9))
        #expect(WorkItem.batch(17).description == "batch 17")
        #expect(WorkItem.batches(3...5).description == "batches 3…5")
    }

    @Test(arguments: ["", "batch", "batch ", "batch 007", "batch +7", "batch 7 ", "Batch 7", "batch -1", "batches 5…3",
                      "batches 3…3", "batches 3...5", "batches 3…", "batch 18446744073709551616", "row 3"])
    func anythingElseIsNoItem(text: String) {
        #expect(WorkItem(text) == nil)
    }

    @Test func aPoisonPillIsOneBatchNeverAGroup() {
        #expect(PoisonPill(item: "batch 4", evidence: "3 crashes").batchID == 4)
        #expect(PoisonPill(item: "batches 3…5", evidence: "").batchID == nil)
        #expect(PoisonPill(item: "batch 04", evidence: "").batchID == nil)
        #expect(PoisonPill(item: "job 4", evidence: "").batchID == nil)
    }
}
