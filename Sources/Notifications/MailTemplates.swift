import Foundation
import GatewayCore

/// What every message to the citizen may refer to.
public struct NoticeContext: Sendable {
    public let session: Session
    public let joinURL: String
    public let cancelURL: String
    public let helpPhone: String
    public let validationCode: String?

    public init(session: Session, joinURL: String, cancelURL: String, helpPhone: String, validationCode: String?) {
        self.session = session
        self.joinURL = joinURL
        self.cancelURL = cancelURL
        self.helpPhone = helpPhone
        self.validationCode = validationCode
    }
}

/// A rendered message: subject, plain text and HTML.
public struct RenderedMail: Sendable, Equatable {
    public let subject: String
    public let text: String
    public let html: String
}

/// The citizen's e-mails in Portuguese (pt-PT, the default) and English. Times are shown in
/// Europe/Lisbon time.
public enum MailTemplates {
    public enum Kind: Sendable {
        case notice(CitizenNotice)
        case late
        /// A companion's own invitation: their name and role. It names neither the citizen nor the
        /// booking's subject, and has no cancel link (only the citizen cancels).
        case companionInvitation(name: String, role: Companion.Role)
    }

    public static func render(_ kind: Kind, _ context: NoticeContext) -> RenderedMail {
        let english = context.session.booking.citizen.locale.hasPrefix("en")
        let strings = english ? Strings.english : Strings.portuguese
        let booking = context.session.booking
        let when = DisplayText.appointmentTime(booking.startsAt, english: english)
        let time = DisplayText.clockTime(booking.startsAt, english: english)
        let name = booking.citizen.name

        var paragraphs: [Paragraph] = []
        let subject: String
        switch kind {
        case .notice(.invitation):
            subject = strings.invitationSubject(when)
            paragraphs = [
                .text(strings.greeting(name)),
                .text(strings.invitationIntro(when)),
                .link(strings.joinLabel, context.joinURL),
            ]
            if let code = context.validationCode { paragraphs.append(.emphasis(strings.codeLine(code))) }
            paragraphs += [
                .text(strings.windowLine),
                .text(strings.prepareTitle),
                .list(strings.prepareItems),
                .text(strings.equipmentTitle),
                .list(strings.equipmentItems),
                .text(strings.recordingLine),
                .link(strings.cancelLabel, context.cancelURL),
                .text(strings.helpLine(context.helpPhone)),
            ]
        case .notice(.rescheduled):
            subject = strings.rescheduledSubject(when)
            paragraphs = [
                .text(strings.greeting(name)),
                .text(strings.rescheduledIntro(when)),
                .link(strings.joinLabel, context.joinURL),
                .text(strings.sameCodeLine),
                .link(strings.cancelLabel, context.cancelURL),
                .text(strings.helpLine(context.helpPhone)),
            ]
        case .notice(.cancelled):
            subject = strings.cancelledSubject(when)
            paragraphs = [
                .text(strings.greeting(name)),
                .text(strings.cancelledIntro(when)),
                .text(strings.helpLine(context.helpPhone)),
            ]
        case .companionInvitation(let companionName, let role):
            subject = strings.invitationSubject(when)
            paragraphs = [
                .text(strings.greeting(companionName)),
                .text(strings.companionIntro(role, when)),
                .link(strings.joinLabel, context.joinURL),
            ]
            if let code = context.validationCode { paragraphs.append(.emphasis(strings.codeLine(code))) }
            paragraphs += [
                .text(strings.windowLine),
                .text(strings.equipmentTitle),
                .list(strings.equipmentItems),
                .text(strings.recordingLine),
                .text(strings.helpLine(context.helpPhone)),
            ]
        case .late:
            subject = strings.lateSubject(time)
            paragraphs = [
                .text(strings.greeting(name)),
                .text(strings.lateIntro(time)),
                .link(strings.joinLabel, context.joinURL),
                .text(strings.lateCodeLine),
                .text(strings.helpLine(context.helpPhone)),
                .link(strings.cancelLabel, context.cancelURL),
            ]
        }
        paragraphs.append(.text(strings.signature))
        return RenderedMail(
            subject: subject, text: paragraphs.map(\.text).joined(separator: "\n\n") + "\n",
            html: html(paragraphs, language: english ? "en" : "pt-PT", title: subject))
    }

    /// An iCalendar event for the appointment (invitation and reschedule).
    public static func calendarEvent(_ context: NoticeContext, stamp: Date) -> Data {
        let booking = context.session.booking
        let english = booking.citizen.locale.hasPrefix("en")
        let summary = english ? "Video appointment — Social Security" : "Atendimento por videochamada — Segurança Social"
        let lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Video-session gateway//EN", "METHOD:PUBLISH",
            "BEGIN:VEVENT",
            "UID:\(context.session.bookingID.rawValue)@video-session-gateway",
            "SEQUENCE:\(context.session.generation)",
            "DTSTAMP:\(icsDate(stamp))",
            "DTSTART:\(icsDate(booking.startsAt))",
            "DTEND:\(icsDate(booking.endsAt))",
            "SUMMARY:\(icsText(summary))",
            "URL:\(context.joinURL)",
            "DESCRIPTION:\(icsText(context.joinURL))",
            "END:VEVENT", "END:VCALENDAR",
        ]
        return Data((lines.map(icsFold).joined(separator: "\r\n") + "\r\n").utf8)
    }

    // MARK: Rendering

    private enum Paragraph {
        case text(String)
        case emphasis(String)
        case link(String, String)
        case list([String])

        var text: String {
            switch self {
            case .text(let text), .emphasis(let text): text
            case .link(let label, let url): "\(label): \(url)"
            case .list(let items): items.map { "- \($0)" }.joined(separator: "\n")
            }
        }
    }

    private static func html(_ paragraphs: [Paragraph], language: String, title: String) -> String {
        let body = paragraphs.map { paragraph -> String in
            switch paragraph {
            case .text(let text): "<p>\(DisplayText.htmlEscaped(text))</p>"
            case .emphasis(let text): "<p><strong>\(DisplayText.htmlEscaped(text))</strong></p>"
            case .link(let label, let url): "<p><a href=\"\(DisplayText.htmlEscaped(url))\">\(DisplayText.htmlEscaped(label))</a></p>"
            case .list(let items): "<ul>" + items.map { "<li>\(DisplayText.htmlEscaped($0))</li>" }.joined() + "</ul>"
            }
        }.joined(separator: "\n")
        return """
            <!doctype html>
            <html lang="\(language)"><head><meta charset="utf-8"><title>\(DisplayText.htmlEscaped(title))</title></head>
            <body>
            \(body)
            </body></html>
            """
    }


    private static func icsDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    private static func icsText(_ text: String) -> String {
        MailHeader.singleLine(text).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ";", with: "\\;")
            .replacingOccurrences(of: ",", with: "\\,")
    }

    /// RFC 5545 folding: lines of at most 75 octets, continued with a space.
    private static func icsFold(_ line: String) -> String {
        var folded: [String] = []
        var current = ""
        for character in line {
            if (current + String(character)).utf8.count > 75 {
                folded.append(current)
                current = " "
            }
            current.append(character)
        }
        folded.append(current)
        return folded.joined(separator: "\r\n")
    }
}

private struct Strings: Sendable {
    let greeting: @Sendable (String) -> String
    let invitationSubject: @Sendable (String) -> String
    let invitationIntro: @Sendable (String) -> String
    let joinLabel: String
    let codeLine: @Sendable (String) -> String
    let windowLine: String
    let prepareTitle: String
    let prepareItems: [String]
    let equipmentTitle: String
    let equipmentItems: [String]
    let recordingLine: String
    let cancelLabel: String
    let helpLine: @Sendable (String) -> String
    let rescheduledSubject: @Sendable (String) -> String
    let rescheduledIntro: @Sendable (String) -> String
    let sameCodeLine: String
    let cancelledSubject: @Sendable (String) -> String
    let cancelledIntro: @Sendable (String) -> String
    let lateSubject: @Sendable (String) -> String
    let lateIntro: @Sendable (String) -> String
    let lateCodeLine: String
    let companionIntro: @Sendable (Companion.Role, String) -> String
    let signature: String

    static let portuguese = Strings(
        greeting: { name in name.isEmpty ? "Olá," : "Olá \(name)," },
        invitationSubject: { "Atendimento por videochamada marcado — \($0)" },
        invitationIntro: { "O seu atendimento por videochamada na Segurança Social está marcado para \($0) (hora de Lisboa)." },
        joinLabel: "Entrar no atendimento",
        codeLine: { "Código de validação: \($0)" },
        windowLine: "A ligação fica disponível 30 minutos antes da hora marcada. Depois de introduzir o código, aguarde que o técnico inicie a sessão.",
        prepareTitle: "Tenha à mão:",
        prepareItems: [
            "o seu documento de identificação e o NISS",
            "os documentos relacionados com o assunto da marcação",
        ],
        equipmentTitle: "Equipamento mínimo:",
        equipmentItems: [
            "computador ou telemóvel com câmara, microfone e colunas a funcionar",
            "ligação à internet (de preferência Wi-Fi) e o navegador Chrome ou Edge atualizado",
            "um local sem ruído, com boa iluminação e privacidade; ative a supressão de ruído se existir",
        ],
        recordingLine: "A videochamada não é gravada.",
        cancelLabel: "Se não puder comparecer, cancele aqui",
        helpLine: { "Precisa de ajuda? Ligue \($0)." },
        rescheduledSubject: { "Atendimento por videochamada alterado — \($0)" },
        rescheduledIntro: { "O seu atendimento por videochamada foi alterado para \($0) (hora de Lisboa)." },
        sameCodeLine: "A ligação e o código de validação continuam os mesmos.",
        cancelledSubject: { "Atendimento por videochamada cancelado — \($0)" },
        cancelledIntro: { "O seu atendimento por videochamada de \($0) foi cancelado. Pode fazer nova marcação quando quiser." },
        lateSubject: { "O seu atendimento começou às \($0) — o técnico está à sua espera" },
        lateIntro: { "O seu atendimento por videochamada começou às \($0) e o técnico da Segurança Social está à sua espera. Ainda pode entrar até ao fim do horário marcado." },
        lateCodeLine: "Use o código de validação que recebeu no e-mail de marcação.",
        companionIntro: { role, when in
            let part = role == .interpreter ? "intérprete" : "representante"
            return "Foi indicado(a) como \(part) para um atendimento por videochamada na Segurança Social marcado para \(when) (hora de Lisboa). Esta ligação e este código são só seus."
        },
        signature: "Segurança Social — atendimento por videochamada")

    static let english = Strings(
        greeting: { name in name.isEmpty ? "Hello," : "Hello \(name)," },
        invitationSubject: { "Video appointment booked — \($0)" },
        invitationIntro: { "Your video appointment with Social Security is booked for \($0) (Lisbon time)." },
        joinLabel: "Join the appointment",
        codeLine: { "Validation code: \($0)" },
        windowLine: "The link opens 30 minutes before the appointment. After entering the code, please wait for your attendant to start the session.",
        prepareTitle: "Have at hand:",
        prepareItems: [
            "your identity document and social security number (NISS)",
            "the documents about the subject of your appointment",
        ],
        equipmentTitle: "Minimum equipment:",
        equipmentItems: [
            "a computer or phone with a working camera, microphone and speakers",
            "an internet connection (Wi-Fi preferred) and an up-to-date Chrome or Edge browser",
            "a quiet, well-lit and private place; turn on noise suppression if you have it",
        ],
        recordingLine: "The video call is not recorded.",
        cancelLabel: "If you cannot attend, cancel here",
        helpLine: { "Need help? Call \($0)." },
        rescheduledSubject: { "Video appointment changed — \($0)" },
        rescheduledIntro: { "Your video appointment has moved to \($0) (Lisbon time)." },
        sameCodeLine: "The link and the validation code stay the same.",
        cancelledSubject: { "Video appointment cancelled — \($0)" },
        cancelledIntro: { "Your video appointment of \($0) has been cancelled. You can book again at any time." },
        lateSubject: { "Your appointment started at \($0) — your attendant is waiting" },
        lateIntro: { "Your video appointment started at \($0) and your Social Security attendant is waiting for you. You can still join until the end of the booked slot." },
        lateCodeLine: "Use the validation code from your booking e-mail.",
        companionIntro: { role, when in
            let part = role == .interpreter ? "interpreter" : "representative"
            return "You have been named as \(part) for a video appointment with Social Security booked for \(when) (Lisbon time). This link and this code are yours alone."
        },
        signature: "Social Security — video appointments")
}
