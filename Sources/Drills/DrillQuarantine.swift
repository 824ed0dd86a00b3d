import Workers

/// The gates' quarantine table, read if it exists.
struct QuarantineTable {
    struct Row {
        var batchID: Int64
        var gate: String
        var action: String
        var reason: String
        var recordCount: Int64
    }

    private(set) var rows: [Row] = []
    /// Why there are no rows, when the table cannot be read.
    private(set) var problem: String?

    init(path: String) {
        do {
            let database = try Database(readOnlyPath: path, busyTimeout: .seconds(5))
            let exists = try database.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'etl_quarantine'")
            _ = try exists.step()
            guard exists.int64(at: 0) == 1 else {
                problem = "no table etl_quarantine in the warehouse (the integrity gates are not there)"
                return
            }
            let query = try database.prepare(
                "SELECT batch_id, gate, action, reason, record_count FROM etl_quarantine ORDER BY batch_id")
            while try query.step() {
                rows.append(Row(batchID: query.int64(at: 0), gate: query.string(at: 1), action: query.string(at: 2),
                                reason: query.string(at: 3), recordCount: query.int64(at: 4)))
            }
        } catch {
            problem = "\(error)"
        }
    }

    var summary: String {
        if let problem { return problem }
        guard let first = rows.first else { return "etl_quarantine is empty" }
        return "\(rows.count) rows; first: batch \(first.batchID), gate \(first.gate), action \(first.action), "
            + "\(first.recordCount) records, reason \(first.reason)"
    }
}
