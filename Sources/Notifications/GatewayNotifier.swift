import Foundation
import GatewayCore
import Logging
import SessionOrchestration

/// The gateway's notification channels: citizen e-mail over SMTP, the contact centre's callback task
/// and the scheduler's events, each used only when configured.
public struct GatewayNotifier: Notifier {
    public struct Channels: Sendable {
        public var mail: (any MailTransport)?
        public var mailFrom: MailAddress?
        /// Each receiver has its own signing secret, so neither can forge the other's events.
        public var contactCenterWebhooks: SignedWebhookSender?
        public var contactCenterURL: URL?
        public var schedulerWebhooks: SignedWebhookSender?
        public var schedulerCallbackURL: URL?

        public init(
            mail: (any MailTransport)? = nil, mailFrom: MailAddress? = nil,
            contactCenterWebhooks: SignedWebhookSender? = nil, contactCenterURL: URL? = nil,
            schedulerWebhooks: SignedWebhookSender? = nil, schedulerCallbackURL: URL? = nil
        ) {
            self.mail = mail
            self.mailFrom = mailFrom
            self.contactCenterWebhooks = contactCenterWebhooks
            self.contactCenterURL = contactCenterURL
            self.schedulerWebhooks = schedulerWebhooks
            self.schedulerCallbackURL = schedulerCallbackURL
        }
    }

    private let channels: Channels
    private let publicBaseURL: String
    private let helpPhone: String
    private let clock: any GatewayClock
    private let logger: Logger

    public init(channels: Channels, publicBaseURL: String, helpPhone: String, clock: any GatewayClock, logger: Logger) {
        self.channels = channels
        self.publicBaseURL = publicBaseURL
        self.helpPhone = helpPhone
        self.clock = clock
        self.logger = logger
    }

    public func sendNotice(_ notice: CitizenNotice, for session: Session, validationCode: String?) async throws {
        if notice == .invitation && validationCode == nil {
            throw NotificationError.permanent("the invitation's validation code is no longer available")
        }
        let context = context(for: session, validationCode: validationCode)
        var attachments: [MailAttachment] = []
        if notice != .cancelled {
            attachments.append(
                MailAttachment(
                    filename: "atendimento.ics", contentType: "text/calendar; charset=utf-8; method=PUBLISH",
                    data: MailTemplates.calendarEvent(context, stamp: clock.now)))
        }
        try await sendMail(.notice(notice), context, kind: "notice-\(notice.rawValue)", attachments: attachments)
    }

    public func sendCompanionInvitation(_ companionID: String, for session: Session, validationCode: String) async throws {
        guard let index = Int(companionID.dropFirst("companion-".count)), session.booking.companions.indices.contains(index - 1),
            let access = session.companions.first(where: { $0.id == companionID })?.access
        else { throw NotificationError.permanent("the booking has no \(companionID)") }
        let companion = session.booking.companions[index - 1]
        guard let address = companion.email else { throw NotificationError.missingContact("the companion has no e-mail") }
        let context = NoticeContext(
            session: session, joinURL: "\(publicBaseURL)/join/\(access.joinToken)", cancelURL: "", helpPhone: helpPhone,
            validationCode: validationCode)
        try await sendMail(
            .companionInvitation(name: companion.name, role: companion.role), context,
            kind: "notice-companion-invitation-\(companionID)",
            attachments: [
                MailAttachment(
                    filename: "atendimento.ics", contentType: "text/calendar; charset=utf-8; method=PUBLISH",
                    data: MailTemplates.calendarEvent(context, stamp: clock.now))
            ],
            to: MailAddress(address: address, name: companion.name))
    }

    public func sendFallback(_ channel: FallbackChannel, for session: Session) async throws {
        switch channel {
        case .email:
            try await sendMail(.late, context(for: session, validationCode: nil), kind: "fallback-email", attachments: [])
        case .phone:
            guard let webhooks = channels.contactCenterWebhooks, let url = channels.contactCenterURL else {
                throw NotificationError.notConfigured("CONTACT_CENTER_WEBHOOK_URL is not set")
            }
            guard let phone = session.booking.citizen.phone else {
                throw NotificationError.missingContact("the citizen has no phone number")
            }
            let type = "callback.requested"
            let event = WebhookEvent(
                id: SignedWebhookSender.eventID(bookingID: session.bookingID, type: type, generation: session.generation),
                type: type, occurredAt: RFC3339.string(from: clock.now), bookingId: session.bookingID.rawValue,
                data: CallbackTask(
                    reason: "late", phone: phone, locale: session.booking.citizen.locale, service: session.booking.service,
                    attendantId: session.booking.attendantID, startsAt: RFC3339.string(from: session.booking.startsAt),
                    endsAt: RFC3339.string(from: session.booking.endsAt)))
            try await webhooks.post(event, to: url)
            logger.info("contact-centre callback requested", metadata: ["booking.id": "\(session.bookingID)"])
        }
    }

    public func notifyScheduler(_ event: SchedulerEvent, about session: Session) async throws {
        guard let webhooks = channels.schedulerWebhooks, let url = channels.schedulerCallbackURL else {
            logger.debug("no scheduler callback URL; event not sent", metadata: ["event": "\(event.rawValue)"])
            return
        }
        let envelope = WebhookEvent(
            id: SignedWebhookSender.eventID(bookingID: session.bookingID, type: event.rawValue, generation: session.generation),
            type: event.rawValue, occurredAt: RFC3339.string(from: session.updatedAt), bookingId: session.bookingID.rawValue,
            data: SchedulerEventData(
                state: session.state.rawValue, generation: session.generation,
                startsAt: RFC3339.string(from: session.booking.startsAt), endsAt: RFC3339.string(from: session.booking.endsAt),
                outcome: session.outcome?.rawValue, roomStatus: session.room.status.rawValue,
                roomErrorCode: session.room.errorCode))
        try await webhooks.post(envelope, to: url)
    }

    // MARK: Helpers

    /// Sends to `recipient`, or to the citizen when none is given.
    private func sendMail(
        _ kind: MailTemplates.Kind, _ context: NoticeContext, kind name: String, attachments: [MailAttachment],
        to recipient: MailAddress? = nil
    ) async throws {
        guard let mail = channels.mail, let from = channels.mailFrom else {
            throw NotificationError.notConfigured("SMTP_URL and SMTP_FROM are not set")
        }
        let citizen = context.session.booking.citizen
        guard let address = recipient?.address ?? citizen.email else {
            throw NotificationError.missingContact("the citizen has no e-mail")
        }
        // Checked again here for records stored before the rule: nothing else may reach `RCPT TO`.
        guard EmailAddressRule.isValid(address) else {
            throw NotificationError.permanent("the recipient's e-mail address is not an accepted address")
        }
        let rendered = MailTemplates.render(kind, context)
        let message = MailMessage(
            from: from, to: MailAddress(address: address, name: recipient?.name ?? citizen.name), subject: rendered.subject,
            messageID: "\(name).\(context.session.bookingID.rawValue).g\(context.session.generation)@\(from.domain)",
            date: clock.now, text: rendered.text, html: rendered.html, attachments: attachments)
        try await mail.send(message)
        logger.info("e-mail sent", metadata: ["booking.id": "\(context.session.bookingID)", "mail.kind": "\(name)"])
    }

    private func context(for session: Session, validationCode: String?) -> NoticeContext {
        NoticeContext(
            session: session, joinURL: "\(publicBaseURL)/join/\(session.access.joinToken)",
            cancelURL: "\(publicBaseURL)/cancel/\(session.access.cancelToken)", helpPhone: helpPhone,
            validationCode: validationCode)
    }
}

/// The contact centre's task: call this citizen back.
struct CallbackTask: Encodable, Sendable {
    let reason: String
    let phone: String
    let locale: String
    let service: String
    let attendantId: String?
    let startsAt: String
    let endsAt: String
}

struct SchedulerEventData: Encodable, Sendable {
    let state: String
    let generation: Int
    let startsAt: String
    let endsAt: String
    let outcome: String?
    let roomStatus: String
    let roomErrorCode: String?
}
