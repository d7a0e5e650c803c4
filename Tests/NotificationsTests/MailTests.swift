import Foundation
import GatewayCore
import MeetingProviders
import Testing

@testable import Notifications

enum Sample {
    static let december = Date(timeIntervalSince1970: 1_796_119_200)  // 2026-12-01T10:00:00Z
    static let july = Date(timeIntervalSince1970: 1_782_896_400)  // 2026-07-01T09:00:00Z

    static func session(locale: String = "pt-PT", start: Date = december, name: String = "Maria Sousa") -> Session {
        Session(
            bookingID: BookingID("B-1")!,
            booking: Booking(
                service: "prestacoes-familiares", startsAt: start, endsAt: start + .seconds(1800), provider: "simulator",
                attendantID: "a-17",
                citizen: Citizen(name: name, email: "maria@example.pt", phone: "+351912345678", locale: locale)),
            access: AccessCredentials(
                joinToken: "join-token-0123456789", cancelToken: "cancel-token-0123456789",
                codeHash: AccessCodeHasher.random().hash("123456")),
            createdAt: start - .seconds(86400))
    }

    static func context(_ session: Session, code: String? = "042917") -> NoticeContext {
        NoticeContext(
            session: session, joinURL: "https://video.example.pt/join/join-token-0123456789",
            cancelURL: "https://video.example.pt/cancel/cancel-token-0123456789", helpPhone: "300 502 502",
            validationCode: code)
    }
}

/// Splits a rendered message into headers and the decoded text of each base64 part.
struct ParsedMail {
    let headers: [String]
    let parts: [String]

    init(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        let sections = text.components(separatedBy: "\r\n\r\n")
        headers = sections[0].components(separatedBy: "\r\n")
        var decoded: [String] = []
        for (index, section) in sections.enumerated() where index > 0 {
            let previous = sections[index - 1]
            guard previous.contains("Content-Transfer-Encoding: base64") else { continue }
            let body = section.components(separatedBy: "\r\n--").first ?? ""
            if let data = Data(base64Encoded: body.replacingOccurrences(of: "\r\n", with: "")) {
                decoded.append(String(decoding: data, as: UTF8.self))
            }
        }
        parts = decoded
    }

    func header(_ name: String) -> String? {
        headers.first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
    }
}

@Suite("Mail")
struct MailTests {
    @Test("Accented subjects and names are RFC 2047 words; bodies are UTF-8 base64")
    func encoding() throws {
        let message = MailMessage(
            from: MailAddress(address: "noreply@seg-social.example.pt", name: "Segurança Social"),
            to: MailAddress(address: "maria@example.pt", name: "Maria João Sousa"),
            subject: "Atendimento às 10:00 — não falte", messageID: "notice-invitation.B-1.g1@seg-social.example.pt",
            date: Sample.december, text: "Olá Maria João, até já.", html: "<p>Olá</p>")
        let data = message.rendered()
        #expect(data.allSatisfy { $0 < 0x80 })
        let parsed = ParsedMail(data)
        let subject = try #require(parsed.header("Subject"))
        #expect(subject.hasPrefix("Subject: =?UTF-8?B?"))
        let word = subject.dropFirst("Subject: =?UTF-8?B?".count).dropLast(2)
        #expect(String(decoding: Data(base64Encoded: String(word)) ?? Data(), as: UTF8.self) == "Atendimento às 10:00 — não falte")
        #expect(parsed.header("From")?.contains("=?UTF-8?B?") == true)
        #expect(parsed.header("Message-ID") == "Message-ID: <notice-invitation.B-1.g1@seg-social.example.pt>")
        #expect(parsed.parts.first == "Olá Maria João, até já.")
        #expect(parsed.header("Date") == "Date: Tue, 01 Dec 2026 10:00:00 +0000")
    }

    @Test("A name or subject with CR/LF cannot add a header")
    func headerInjection() {
        let message = MailMessage(
            from: MailAddress(address: "noreply@example.pt"),
            to: MailAddress(address: "maria@example.pt\r\nBcc: victim@example.com", name: "Maria\r\nBcc: x@example.com"),
            subject: "Olá\r\nBcc: y@example.com", messageID: "m@example.pt", date: Sample.december, text: "t", html: "h")
        let parsed = ParsedMail(message.rendered())
        #expect(!parsed.headers.contains { $0.lowercased().hasPrefix("bcc:") })
        #expect(parsed.headers.filter { $0.hasPrefix("To:") }.count == 1)
    }

    @Test(
        "A display name with quotes, commas or angle brackets stays one phrase: one recipient",
        arguments: [
            "\"Attacker\" <attacker@evil.example>, \"Maria\"", "Maria <attacker@evil.example>, Rui",
            "Maria\\\" <attacker@evil.example>", "=?UTF-8?B?QQ==?= <attacker@evil.example>,", "Maria, Sousa",
        ])
    func displayNameInjection(_ name: String) throws {
        let message = MailMessage(
            from: MailAddress(address: "noreply@example.pt"), to: MailAddress(address: "maria@example.pt", name: name),
            subject: "s", messageID: "m@example.pt", date: Sample.december, text: "t", html: "h")
        let to = try #require(ParsedMail(message.rendered()).header("To"))
        #expect(to.hasSuffix(" <maria@example.pt>"))
        let display = String(to.dropFirst("To: ".count).dropLast(" <maria@example.pt>".count))
        #expect(Self.isQuotedString(display) || Self.isEncodedWords(display), "\(display)")
    }

    /// `"…"` whose inner `"` and `\` are all quoted pairs.
    static func isQuotedString(_ text: String) -> Bool {
        guard text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") else { return false }
        var escaped = false
        for character in text.dropFirst().dropLast() {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                return false
            }
        }
        return !escaped
    }

    static func isEncodedWords(_ text: String) -> Bool {
        text.split(separator: " ").allSatisfy { $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") }
    }

    @Test("The invitation carries the link, the code, the cancel link, Lisbon time and an .ics")
    func invitation() throws {
        let rendered = MailTemplates.render(.notice(.invitation), Sample.context(Sample.session()))
        #expect(rendered.subject == "Atendimento por videochamada marcado — terça-feira, 1 de dezembro de 2026, às 10:00")
        for fragment in [
            "Olá Maria Sousa,", "https://video.example.pt/join/join-token-0123456789", "Código de validação: 042917",
            "https://video.example.pt/cancel/cancel-token-0123456789", "300 502 502", "30 minutos antes",
            "não é gravada", "Equipamento mínimo",
        ] {
            #expect(rendered.text.contains(fragment), "\(fragment)")
        }
        #expect(rendered.html.contains("<a href=\"https://video.example.pt/join/join-token-0123456789\">"))
        let ics = String(decoding: MailTemplates.calendarEvent(Sample.context(Sample.session()), stamp: Sample.december), as: UTF8.self)
        #expect(ics.contains("DTSTART:20261201T100000Z\r\n"))
        #expect(ics.contains("UID:B-1@video-session-gateway\r\n"))
        #expect(ics.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 75 })
    }

    @Test("A companion's invitation carries their own link and code and their role, not the citizen's name or cancel link")
    func companionInvitation() {
        let context = NoticeContext(
            session: Sample.session(), joinURL: "https://video.example.pt/join/companion-token-0123456789", cancelURL: "",
            helpPhone: "300 502 502", validationCode: "731904")
        let rendered = MailTemplates.render(.companionInvitation(name: "Rita Gomes", role: .interpreter), context)
        for fragment in [
            "Olá Rita Gomes,", "como intérprete", "https://video.example.pt/join/companion-token-0123456789",
            "Código de validação: 731904", "30 minutos antes", "não é gravada", "300 502 502",
        ] {
            #expect(rendered.text.contains(fragment), "\(fragment)")
        }
        #expect(!rendered.text.contains("Maria") && !rendered.html.contains("Maria"))
        #expect(!rendered.text.contains("cancel"))
        let english = MailTemplates.render(
            .companionInvitation(name: "João Sousa", role: .representative),
            NoticeContext(
                session: Sample.session(locale: "en"), joinURL: "https://video.example.pt/join/x", cancelURL: "",
                helpPhone: "300 502 502", validationCode: "1"))
        #expect(english.text.contains("Hello João Sousa,") && english.text.contains("as representative"))
    }

    @Test("Times are shown in Lisbon time, also in summer, and in English for English speakers")
    func localisation() {
        let summer = MailTemplates.render(.late, Sample.context(Sample.session(start: Sample.july)))
        #expect(summer.subject == "O seu atendimento começou às 10:00 — o técnico está à sua espera")
        let english = MailTemplates.render(.notice(.invitation), Sample.context(Sample.session(locale: "en")))
        #expect(english.subject == "Video appointment booked — Tuesday, 1 December 2026 at 10:00")
        #expect(english.text.contains("Validation code: 042917"))
    }

    @Test("HTML escapes what the citizen typed")
    func htmlEscaping() {
        let rendered = MailTemplates.render(.late, Sample.context(Sample.session(name: "<script>alert(1)</script>")))
        #expect(!rendered.html.contains("<script>"))
        #expect(rendered.html.contains("&lt;script&gt;"))
    }
}

@Suite("Signed webhooks")
struct WebhookTests {
    @Test("The signature is HMAC-SHA256 over \"<t>.<body>\" (vector computed with Python's hmac)")
    func signatureVector() {
        let signature = SignedWebhookSender.signature(secret: "whsec-test", timestamp: 1_764_000_000, body: Data(#"{"id":"evt_1"}"#.utf8))
        #expect(signature == "t=1764000000,v1=4b493764920e61e6535b944d36e5f139c8438af968f1895458b35806a631a0ab")
    }

    @Test("Event ids are stable per booking, type and generation")
    func eventIDs() {
        let id = SignedWebhookSender.eventID(bookingID: BookingID("B-1")!, type: "session.late", generation: 1)
        #expect(id == SignedWebhookSender.eventID(bookingID: BookingID("B-1")!, type: "session.late", generation: 1))
        #expect(id != SignedWebhookSender.eventID(bookingID: BookingID("B-1")!, type: "session.late", generation: 2))
        #expect(id.hasPrefix("evt_") && id.count == 36)
    }
}
