import Foundation
import Hummingbird

#if canImport(Glibc)
import Glibc
#endif

/// The reverse proxies whose forwarding headers are believed (`TRUSTED_PROXIES`, a list of CIDRs).
public struct TrustedProxies: Sendable, Equatable {
    struct Network: Sendable, Equatable {
        let address: [UInt8]
        let prefixLength: Int

        func contains(_ candidate: [UInt8]) -> Bool {
            guard candidate.count == address.count else { return false }
            var remaining = prefixLength
            for (a, b) in zip(address, candidate) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                guard a & mask == b & mask else { return false }
                remaining -= bits
            }
            return true
        }
    }

    let networks: [Network]

    public static let none = TrustedProxies(networks: [])

    init(networks: [Network]) {
        self.networks = networks
    }

    /// Parses `10.0.0.0/8, 192.168.1.7, ::1/128`; `nil` with the wrong entry when one is not a CIDR.
    public static func parse(_ text: String) -> Result<TrustedProxies, TrustedProxiesError> {
        var networks: [Network] = []
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard let address = IPAddressBytes.parse(parts[0]) else { return .failure(.init(entry: entry)) }
            let maximum = address.count * 8
            let prefix = parts.count == 2 ? Int(parts[1]) : maximum
            guard let prefix, (0...maximum).contains(prefix) else { return .failure(.init(entry: entry)) }
            networks.append(Network(address: address, prefixLength: prefix))
        }
        return .success(TrustedProxies(networks: networks))
    }

    public var isEmpty: Bool { networks.isEmpty }

    public func contains(_ ip: String) -> Bool {
        guard let bytes = IPAddressBytes.parse(ip) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client's address and scheme: the peer's own, unless the peer is a trusted proxy; then the
    /// right-most address of `Forwarded` (or else `X-Forwarded-For`) that is not a trusted proxy, and
    /// the scheme of `X-Forwarded-Proto` (or `Forwarded`'s `proto`).
    func client(peer: String?, headers: HTTPFields) -> (address: String?, scheme: String?) {
        guard let peer, contains(peer) else { return (peer, nil) }
        let forwarded = headers[.init("Forwarded")!].map(Self.forwardedElements) ?? []
        let hops = forwarded.isEmpty
            ? (headers[.init("X-Forwarded-For")!] ?? "").split(separator: ",").map { Self.bareAddress(String($0)) }
            : forwarded.compactMap { $0["for"].map(Self.bareAddress) }
        var client = peer
        for hop in hops.reversed() {
            guard IPAddressBytes.parse(hop) != nil else { break }
            client = hop
            if !contains(hop) { break }
        }
        let scheme = headers[.init("X-Forwarded-Proto")!]?.split(separator: ",").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? forwarded.last?["proto"]?.lowercased()
        return (client, scheme.flatMap { ["http", "https"].contains($0) ? $0 : nil })
    }

    /// The elements of an RFC 7239 `Forwarded` header, each as its lower-cased pairs.
    static func forwardedElements(_ header: String) -> [[String: String]] {
        header.split(separator: ",").map { element in
            var pairs: [String: String] = [:]
            for pair in element.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                pairs[parts[0].lowercased()] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            return pairs
        }
    }

    /// `[2001:db8::1]:4711` → `2001:db8::1`; `192.0.2.1:80` → `192.0.2.1`.
    static func bareAddress(_ raw: String) -> String {
        var text = raw.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        if text.hasPrefix("["), let end = text.firstIndex(of: "]") {
            return String(text[text.index(after: text.startIndex)..<end])
        }
        if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") { text = String(text[..<colon]) }
        return text
    }
}

public struct TrustedProxiesError: Error, Sendable {
    public let entry: String
}

/// The bytes of an IPv4 (4) or IPv6 (16) address, IPv4-mapped IPv6 addresses as IPv4.
enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }
}
