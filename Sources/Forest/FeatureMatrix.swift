/// A dense matrix of features, stored column-major in one contiguous array.
///
/// Column `c` occupies `storage[c * rowCount ..< (c + 1) * rowCount]`, so a feature is
/// one contiguous run: what binning and prediction scan.
public struct FeatureMatrix: Sendable, Equatable {
    /// The number of rows (samples).
    public let rowCount: Int
    /// The number of columns (features).
    public let columnCount: Int
    /// Column-major values.
    let storage: [Double]

    /// A matrix from its columns, which must all have the same length.
    public init(columns: [[Double]]) {
        let rowCount = columns.first?.count ?? 0
        for (index, column) in columns.enumerated() {
            precondition(column.count == rowCount, "column \(index) has \(column.count) rows, column 0 has \(rowCount)")
        }
        self.rowCount = rowCount
        columnCount = columns.count
        var storage = [Double]()
        storage.reserveCapacity(rowCount * columns.count)
        for column in columns { storage.append(contentsOf: column) }
        self.storage = storage
    }

    /// A matrix over column-major `storage` of `rowCount × columnCount` values.
    init(rowCount: Int, columnCount: Int, storage: [Double]) {
        precondition(storage.count == rowCount * columnCount, "storage does not hold \(rowCount)×\(columnCount) values")
        self.rowCount = rowCount
        self.columnCount = columnCount
        self.storage = storage
    }

    /// The value at (`row`, `column`).
    public subscript(row row: Int, column column: Int) -> Double {
        precondition(row >= 0 && row < rowCount && column >= 0 && column < columnCount,
                     "(\(row), \(column)) outside \(rowCount)×\(columnCount)")
        return storage[column * rowCount + row]
    }

    /// The values of column `column`, contiguous.
    public func column(_ column: Int) -> ArraySlice<Double> {
        precondition(column >= 0 && column < columnCount, "column \(column) outside 0..<\(columnCount)")
        return storage[column * rowCount ..< (column + 1) * rowCount]
    }

    /// A matrix of the rows at `indices`, in that order (for train/test splits).
    public func rows(_ indices: [Int]) -> FeatureMatrix {
        var values = [Double]()
        values.reserveCapacity(indices.count * columnCount)
        for column in 0..<columnCount {
            let base = column * rowCount
            for row in indices {
                precondition(row >= 0 && row < rowCount, "row \(row) outside 0..<\(rowCount)")
                values.append(storage[base + row])
            }
        }
        return FeatureMatrix(rowCount: indices.count, columnCount: columnCount, storage: values)
    }
}
