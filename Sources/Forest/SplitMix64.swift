import PortableRandom

/// Stream identifiers, so that no two uses of the same seed draw the same numbers.
enum RandomStream {
    static let tree: UInt64 = 0xF0_4E57_0001
    static let binSample: UInt64 = 0xF0_4E57_0002
    static let split: UInt64 = 0xF0_4E57_0003
    static let synthetic: UInt64 = 0xF0_4E57_0004
}
