import Foundation

/// An e-mail address with an optional display name. Both are cleaned of CR and LF, so that no value
/// can add a header.
public struct MailAddress: Sendable, Equatable {
    public let address: String
    public let name: String?

    public init(address: String, name: String? = nil) {
        self.address = MailHeader.singleLine(address)
        self.name = name.map(MailHeader.singleLine)
    }

    /// `"Display Name" <address>`: printable ASCII names are a quoted string (with `"` and `\` as
    /// quoted pairs, so commas and angle brackets inside are only text); other names, and names that
    /// look like encoded words, are RFC 2047 encoded words. No display name can add a recipient.
    var headerValue: String {
        guard let name, !name.isEmpty else { return "<\(address)>" }
        let printable = name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7f }
        let display =
            printable && !name.contains("=?")
            ? MailHeader.quotedString(name) : MailHeader.encodedWord(name, always: true)
        return "\(display) <\(address)>"
    }

    /// The domain part, for Message-IDs.
    var domain: String { address.split(separator: "@").last.map(String.init) ?? "localhost" }
}

/// A file attached to a message.
public struct MailAttachment: Sendable, Equatable {
    public let filename: String
    public let contentType: String
    public let data: Data

    public init(filename: String, contentType: String, data: Data) {
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }
}

/// A MIME message: plain text and HTML alternatives, UTF-8, base64 bodies, and attachments.
public struct MailMessage: Sendable, Equatable {
    public let from: MailAddress
    public let to: MailAddress
    public let subject: String
    /// Without angle brackets; stable per booking, notice and generation, so a retried send is recognisable.
    public let messageID: String
    public let date: Date
    public let text: String
    public let html: String
    public let attachments: [MailAttachment]

    public init(
        from: MailAddress, to: MailAddress, subject: String, messageID: String, date: Date, text: String, html: String,
        attachments: [MailAttachment] = []
    ) {
        self.from = from
        self.to = to
        self.subject = MailHeader.singleLine(subject)
        self.messageID = MailHeader.singleLine(messageID)
        self.date = date
        self.text = text
        self.html = html
        self.attachments = attachments
    }

    /// The message as sent over SMTP: CRLF line endings, 7-bit clean.
    public func rendered() -> Data {
        let boundary = "=_vg_" + String(messageID.utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 }, radix: 16)
        var lines = [
            "From: \(from.headerValue)",
            "To: \(to.headerValue)",
            "Subject: \(MailHeader.encodedWord(subject))",
            "Date: \(MailHeader.rfc5322Date(date))",
            "Message-ID: <\(messageID)>",
            "MIME-Version: 1.0",
            "Auto-Submitted: auto-generated",
        ]
        let alternative = [
            "--\(boundary)-alt",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            MailHeader.base64Lines(Data(text.utf8)),
            "--\(boundary)-alt",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            MailHeader.base64Lines(Data(html.utf8)),
            "--\(boundary)-alt--",
        ]
        if attachments.isEmpty {
            lines += ["Content-Type: multipart/alternative; boundary=\"\(boundary)-alt\"", ""] + alternative
        } else {
            lines += [
                "Content-Type: multipart/mixed; boundary=\"\(boundary)\"", "", "--\(boundary)",
                "Content-Type: multipart/alternative; boundary=\"\(boundary)-alt\"", "",
            ]
            lines += alternative
            for attachment in attachments {
                let filename = MailHeader.singleLine(attachment.filename).filter { $0 != "\"" }
                lines += [
                    "--\(boundary)",
                    "Content-Type: \(MailHeader.singleLine(attachment.contentType)); name=\"\(filename)\"",
                    "Content-Disposition: attachment; filename=\"\(filename)\"",
                    "Content-Transfer-Encoding: base64",
                    "",
                    MailHeader.base64Lines(attachment.data),
                ]
            }
            lines.append("--\(boundary)--")
        }
        return Data((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }
}

enum MailHeader {
    /// Removes CR, LF and other control characters: a header value is one line.
    static func singleLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.properties.generalCategory != .control }))
    }

    /// RFC 2047 `=?UTF-8?B?…?=` words (folded), or the text as is when it is printable ASCII.
    /// An RFC 5322 quoted string: `"` and `\` escaped as quoted pairs.
    static func quotedString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// With `always`, printable ASCII is encoded too (for a display name that must stay one phrase).
    static func encodedWord(_ text: String, always: Bool = false) -> String {
        if !always && text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f })
            && !text.contains("=?")
        {
            return text
        }
        var words: [String] = []
        var chunk = ""
        for character in text {
            if (chunk + String(character)).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\r\n ")
    }

    static func base64Lines(_ data: Data) -> String {
        data.base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
