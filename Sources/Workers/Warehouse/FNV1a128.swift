/// The 128-bit FNV-1a hash (Fowler–Noll–Vo, http://www.isthe.com/chongo/tech/comp/fnv/): for
/// each byte, xor it into the state, then multiply by the FNV-128 prime `2^88 + 0x13B`.
///
/// Not cryptographic: it fingerprints the training data so that two identical tables hash the
/// same and a changed one does not. A single changed byte always changes the result (each step is
/// a bijection of the state). Two 64-bit words, no `UInt128` (macOS 15 only).
struct FNV1a128: Equatable, Sendable {
    /// High and low 64 bits of the state.
    private(set) var high: UInt64 = 0x6C62_272E_07BB_0142
    private(set) var low: UInt64 = 0x62B8_2175_6295_C58D

    /// The offset basis: the hash of no bytes.
    init() {}

    /// Mixes in one byte.
    @inline(__always)
    mutating func combine(_ byte: UInt8) {
        low ^= UInt64(byte)
        // (high·2^64 + low) · (2^88 + 0x13B) mod 2^128: low·2^88 lands in the high word shifted by 24.
        let (carry, product) = low.multipliedFullWidth(by: 0x13B)
        high = high &* 0x13B &+ carry &+ (low << 24)
        low = product
    }

    /// Mixes in the eight bytes of `value`, least significant first (little-endian).
    @inline(__always)
    mutating func combine(_ value: UInt64) {
        var value = value
        for _ in 0..<8 {
            combine(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
    }

    /// Mixes in the bytes of `buffer`, in order.
    @inline(__always)
    mutating func combine(_ buffer: UnsafeBufferPointer<UInt8>) {
        for byte in buffer { combine(byte) }
    }

    /// 32 lowercase hex digits, the high word first.
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 32) { text in
            for (offset, word) in [(0, high), (16, low)] {
                for position in 0..<16 {
                    text[offset + position] = digits[Int(word >> UInt64(60 - 4 * position) & 0xF)]
                }
            }
            return 32
        }
    }
}
