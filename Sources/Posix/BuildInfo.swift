import CShims

/// Which build of CIDP this process runs: the version and the executable's GNU build id (the
/// linker's `.note.gnu.build-id`, a hash of the linked image, so two different binaries never
/// share one). Workers report it in `ready`; `cidp status` shows it per worker, so a half-upgraded
/// tree is visible (`cidp upgrade`).
public enum BuildInfo {
    /// The release this source tree is.
    public static let version = "0.12.0"

    /// The main executable's GNU build id in hex, or `unknown` when it has none.
    public static let buildID: String = mainExecutableBuildID() ?? "unknown"

    /// `0.12.0+1a2b3c4d5e6f`: the version and the first 12 hex digits of the build id.
    public static var short: String { "\(version)+\(buildID.prefix(12))" }

    /// Reads the build-id note of the main executable from the loaded image; no file is read.
    private static func mainExecutableBuildID() -> String? {
        var index: Int32 = 0
        var start: UnsafeRawPointer?
        var size = 0
        while cshims_program_note_segment(index, &start, &size) == 1 {
            index += 1
            guard let start else { continue }
            if let id = buildID(inNotes: UnsafeRawBufferPointer(start: start, count: size)) {
                let digits = Array("0123456789abcdef".utf8)
                return String(decoding: id.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
            }
        }
        return nil
    }

    /// The descriptor of the `NT_GNU_BUILD_ID` note (type 3, name "GNU") among ELF notes: each a
    /// 4-byte name size, descriptor size and type, then the name and the descriptor, each padded
    /// to 4 bytes.
    static func buildID(inNotes notes: UnsafeRawBufferPointer) -> [UInt8]? {
        var offset = 0
        func padded(_ size: Int) -> Int { (size + 3) & ~3 }
        while offset + 12 <= notes.count {
            let nameSize = Int(notes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let descriptorSize = Int(notes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            let type = notes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let name = offset + 12
            let descriptor = name + padded(nameSize)
            guard descriptor + descriptorSize <= notes.count else { return nil }
            if type == 3, nameSize == 4, Array(notes[name..<name + 3]) == Array("GNU".utf8) {
                return Array(notes[descriptor..<descriptor + descriptorSize])
            }
            offset = descriptor + padded(descriptorSize)
        }
        return nil
    }
}
