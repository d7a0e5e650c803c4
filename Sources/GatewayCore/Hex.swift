extension Sequence<UInt8> {
    /// Lowercase hex of the bytes, two digits each (by table: `String(format:)` per byte costs more
    /// than the hashes whose digests this prints).
    public var lowercaseHex: String {
        let digits: StaticString = "0123456789abcdef"
        var hex: [UInt8] = []
        hex.reserveCapacity(underestimatedCount * 2)
        digits.withUTF8Buffer { digits in
            for byte in self {
                hex.append(digits[Int(byte >> 4)])
                hex.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
