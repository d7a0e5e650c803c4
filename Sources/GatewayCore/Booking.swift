import Foundation

/// What the scheduler asked for: the booked slot and who takes part.
public struct Booking: Sendable, Equatable, Codable {
    public var service: String
    public var startsAt: Date
    public var endsAt: Date
    public var provider: String
    public var attendantID: String?
    public var topic: Topic?
    public var citizen: Citizen
    public var notifyCitizen: Bool
    /// Up to two people who join with the citizen (a sign-language interpreter, a representative).
    public var companions: [Companion]

    public init(
        service: String, startsAt: Date, endsAt: Date, provider: String, attendantID: String? = nil,
        topic: Topic? = nil, citizen: Citizen, notifyCitizen: Bool = true, companions: [Companion] = []
    ) {
        self.service = service
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.provider = provider
        self.attendantID = attendantID
        self.topic = topic
        self.citizen = citizen
        self.notifyCitizen = notifyCitizen
        self.companions = companions
    }

    /// Whether the citizen wants e-mails about the booking and gave an address.
    public var wantsEmail: Bool { notifyCitizen && citizen.email != nil }

    /// Whether the slot differs, which makes an update a reschedule.
    public func hasDifferentSlot(than other: Booking) -> Bool {
        startsAt != other.startsAt || endsAt != other.endsAt
    }
}

/// What the booking is about, as chosen by the citizen.
public struct Topic: Sendable, Equatable, Codable {
    public var theme: String?
    public var subtheme: String?
    public var reason: String?

    public init(theme: String? = nil, subtheme: String? = nil, reason: String? = nil) {
        self.theme = theme
        self.subtheme = subtheme
        self.reason = reason
    }
}

/// The citizen's contact data. Personal data: never logged, erased after retention.
public struct Citizen: Sendable, Equatable, Codable {
    public var name: String
    public var email: String?
    public var phone: String?
    public var locale: String

    public init(name: String, email: String? = nil, phone: String? = nil, locale: String = "pt-PT") {
        self.name = name
        self.email = email
        self.phone = phone
        self.locale = locale
    }
}

/// Someone who joins the call with the citizen. Personal data: never logged, erased after retention.
public struct Companion: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        case interpreter
        case representative
    }

    public static let maximumCount = 2

    public var role: Role
    public var name: String
    public var email: String?
    public var phone: String?

    public init(role: Role, name: String, email: String? = nil, phone: String? = nil) {
        self.role = role
        self.name = name
        self.email = email
        self.phone = phone
    }
}
