/// Prints rows as left-aligned columns two spaces apart, the last column unpadded, each line
/// without trailing blanks: the one printer of every table an operator reads (`cidp status`,
/// `cidp models`, `cidp quarantine`, `cidp checkpoint show`, the drills' report). Every cell is shown
/// through `OperatorText.escaped` (its cells quote what the world wrote: reasons, pump ids), so a
/// cell is one line and cannot drive the terminal; widths are those of the escaped cells.
public enum TextTable {
    public static func lines(_ rows: [[String]]) -> [String] {
        let rows = rows.map { $0.map(OperatorText.escaped) }
        guard let header = rows.first else { return [] }
        let widths = header.indices.map { column in rows.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                line += index == row.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[index] + 2 - cell.count))
            }
            while line.last == " " { line.removeLast() }
            return line
        }
    }
}
