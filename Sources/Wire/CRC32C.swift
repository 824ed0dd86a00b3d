/// CRC-32C (Castagnoli), the checksum of every frame.
///
/// Reflected polynomial `0x82F63B78`, initial value and final XOR `0xFFFFFFFF` (as iSCSI,
/// ext4 and SSE 4.2 `crc32`). Software slicing-by-8: eight bytes per step through eight
/// 256-entry tables, no allocation.
public enum CRC32C {
    /// The reflected Castagnoli polynomial.
    public static let polynomial: UInt32 = 0x82F6_3B78

    /// Eight tables of 256 entries, laid out flat: table `k` starts at `k * 256`.
    /// Table 0 is the classic byte-at-a-time table; table `k` advances a byte through `k` more zero bytes.
    static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ ((crc & 1) == 0 ? 0 : polynomial) }
            tables[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// The CRC-32C of `bytes`, or of the bytes checksummed so far followed by `bytes`.
    ///
    /// `checksum(b, continuing: checksum(a)) == checksum(a + b)`.
    /// - Parameters:
    ///   - bytes: the bytes to checksum.
    ///   - crc: the checksum of the preceding bytes; `0` (the default) to start afresh.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return tables.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            var crc = ~crc
            var offset = 0
            let count = bytes.count
            while count - offset >= 8 {
                let low = UInt32(littleEndian: (base + offset).loadUnaligned(as: UInt32.self)) ^ crc
                let high = UInt32(littleEndian: (base + offset + 4).loadUnaligned(as: UInt32.self))
                crc = t[7 * 256 + Int(low & 0xFF)]
                    ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)]
                    ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)]
                    ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)]
                    ^ t[Int(high >> 24)]
                offset += 8
            }
            while offset < count {
                let byte = (base + offset).load(as: UInt8.self)
                crc = t[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
                offset += 1
            }
            return ~crc
        }
    }

    /// The CRC-32C of `bytes`, or of the bytes checksummed so far followed by `bytes`.
    /// - Parameters:
    ///   - bytes: the bytes to checksum.
    ///   - crc: the checksum of the preceding bytes; `0` (the default) to start afresh.
    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }
}
