/// The e-mail addresses the gateway accepts: a strict subset of RFC 5321's `Mailbox`, ASCII only.
///
/// The local part is a dot-atom of letters, digits and ``!#$&'*+/=?^_`{|}~-`` (no quoted strings, and
/// not `%`, which some relays still route by); the domain is two or more LDH labels. Nothing in an
/// accepted address can end an SMTP path or add a recipient: no `<>,;"()[]\%`, spaces or controls.
public enum EmailAddressRule {
    public static let maximumLength = 254
    public static let maximumLocalPartLength = 64

    private static let localCharacters = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&'*+/=?^_`{|}~-".utf8)
    private static let labelCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-".utf8)

    public static func isValid(_ address: String) -> Bool {
        let bytes = Array(address.utf8)
        guard bytes.count <= maximumLength, let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { return false }
        let local = bytes[..<at]
        let domain = bytes[(at + 1)...]
        return isDotAtom(local) && isDomain(domain)
    }

    private static func isDotAtom(_ local: ArraySlice<UInt8>) -> Bool {
        guard !local.isEmpty, local.count <= maximumLocalPartLength else { return false }
        let atoms = local.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return atoms.allSatisfy { !$0.isEmpty && $0.allSatisfy(localCharacters.contains) }
    }

    private static func isDomain(_ domain: ArraySlice<UInt8>) -> Bool {
        guard domain.count <= 253 else { return false }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.allSatisfy(labelCharacters.contains)
                && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
        }
    }
}
