import Foundation
import Testing
import Pipeline
import Wire
@testable import Workers

/// `Warehouse(readingOnly:)`, what the commands that only read the warehouse open (`cidp models`,
/// `quarantine`, `checkpoint show`, a job's summary): it reads a current warehouse, and never
/// creates, migrates or writes one.
@Suite struct WarehouseReadOnlyTests {
    @Test func aCurrentWarehouseIsReadAndNoByteOrFileChanges() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            do {
                let warehouse = try Warehouse(path: path, busyTimeout: .seconds(1))
                let records = (0..<4).map { makeRecord("P_001", hour: Int64($0)) }
                _ = try warehouse.commit(RecordBatch(batchID: 1, cursor: "1000", records: records), dropped: 0, windowState: [1])
            }
            let before = fileBytes(path)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            do {
                let reader = try Warehouse(readingOnly: path, busyTimeout: .seconds(1))
                #expect(try reader.rowCount() == 4)
                #expect(try reader.checkpoint()?.batchID == 1)
                #expect(try reader.listModels().isEmpty)
                // Nothing can be written through it.
                #expect(throws: WarehouseError.self) {
                    _ = try reader.commit(RecordBatch(batchID: 2, cursor: "2000", records: [makeRecord("P_002", hour: 1)]),
                                          dropped: 0, windowState: [2])
                }
            }
            #expect(fileBytes(path) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == files)
        }
    }

    @Test func aWarehouseFromAnOlderVersionIsRefusedNotMigrated() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dwh.sqlite"
            try WarehouseMigrationTests.warehouseBefore007(path, batches: [("1000", 4)])
            let before = fileBytes(path)
            #expect {
                _ = try Warehouse(readingOnly: path, busyTimeout: .seconds(1))
            } throws: { error in
                "\(error)".contains("migration 007_source_position is not applied")
            }
            #expect(fileBytes(path) == before)
            // And no file at all: refused, none created.
            #expect(throws: WarehouseError.self) { try Warehouse(readingOnly: directory + "/none.sqlite", busyTimeout: .seconds(1)) }
            #expect(!FileManager.default.fileExists(atPath: directory + "/none.sqlite"))
        }
    }
}
