import Foundation
import GatewayCore

/// A JSON member that records a wrong type instead of failing the whole decoding, so that every field
/// error can be reported at once.
struct Lenient<Value: Decodable & Sendable>: Decodable, Sendable {
    let value: Value?
    let hasWrongType: Bool

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = nil
            hasWrongType = false
        } else if let decoded = try? container.decode(Value.self) {
            value = decoded
            hasWrongType = false
        } else {
            value = nil
            hasWrongType = true
        }
    }
}

/// The scheduler's `PUT /v1/sessions/{bookingId}` body as sent; unknown members are ignored.
struct SessionRequestBody: Decodable, Sendable {
    struct TopicBody: Decodable, Sendable {
        let theme: Lenient<String>?
        let subtheme: Lenient<String>?
        let reason: Lenient<String>?
    }

    struct CitizenBody: Decodable, Sendable {
        let name: Lenient<String>?
        let email: Lenient<String>?
        let phone: Lenient<String>?
        let locale: Lenient<String>?
    }

    let service: Lenient<String>?
    let startsAt: Lenient<String>?
    let endsAt: Lenient<String>?
    let provider: Lenient<String>?
    let attendantId: Lenient<String>?
    let topic: Lenient<TopicBody>?
    let citizen: Lenient<CitizenBody>?
    let notifyCitizen: Lenient<Bool>?
    let companions: Lenient<[CompanionBody]>?

    struct CompanionBody: Decodable, Sendable {
        let role: Lenient<String>?
        let name: Lenient<String>?
        let email: Lenient<String>?
        let phone: Lenient<String>?
    }
}

/// Turns a request body into a `Booking`, collecting every field error.
struct SessionRequestValidator: Sendable {
    let defaultProvider: String
    let policy: SessionPolicy
    static let supportedLocales: Set<String> = ["pt-PT", "en"]
    static let emailRuleText =
        "must be an e-mail address such as maria@example.pt (letters, digits, and !#$&'*+/=?^_`{|}~.- before the @; no spaces or <>,;\"()[]\\%)"

    func booking(from body: SessionRequestBody, now: Date) -> Result<Booking, Problem> {
        var errors: [Problem.FieldError] = []
        func fail(_ field: String, _ message: String) { errors.append(.init(field: field, message: message)) }

        func text(_ member: Lenient<String>?, _ field: String, required: Bool, maxLength: Int) -> String? {
            guard let member else {
                if required { fail(field, "is required") }
                return nil
            }
            if member.hasWrongType {
                fail(field, "must be a string")
                return nil
            }
            guard let value = member.value?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                if required { fail(field, "is required") }
                return nil
            }
            guard TextLimit.fits(value, maxLength: maxLength) else {
                fail(field, "must be at most \(maxLength) Unicode code points (\(4 * maxLength) bytes)")
                return nil
            }
            guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                fail(field, "must not contain control characters")
                return nil
            }
            return value
        }

        func time(_ member: Lenient<String>?, _ field: String) -> Date? {
            guard let raw = text(member, field, required: true, maxLength: 40) else { return nil }
            guard let date = RFC3339.date(from: raw) else {
                fail(field, "must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T10:00:00Z")
                return nil
            }
            return date
        }

        let service = text(body.service, "service", required: true, maxLength: 100)
        let startsAt = time(body.startsAt, "startsAt")
        let endsAt = time(body.endsAt, "endsAt")
        if let startsAt, let endsAt {
            if endsAt <= startsAt {
                fail("endsAt", "must be after startsAt")
            } else if endsAt.timeIntervalSince(startsAt) > policy.maximumSlotLength.timeInterval {
                fail("endsAt", "must be at most 8 hours after startsAt")
            }
        }
        let provider = text(body.provider, "provider", required: false, maxLength: 40) ?? defaultProvider
        let attendantID = text(body.attendantId, "attendantId", required: false, maxLength: 100)

        var topic: Topic?
        if let member = body.topic {
            if member.hasWrongType {
                fail("topic", "must be an object")
            } else if let value = member.value {
                topic = Topic(
                    theme: text(value.theme, "topic.theme", required: false, maxLength: 200),
                    subtheme: text(value.subtheme, "topic.subtheme", required: false, maxLength: 200),
                    reason: text(value.reason, "topic.reason", required: false, maxLength: 200))
            }
        }

        var citizen: Citizen?
        if let member = body.citizen, !member.hasWrongType, let value = member.value {
            let name = text(value.name, "citizen.name", required: true, maxLength: 200)
            let email = text(value.email, "citizen.email", required: false, maxLength: 254)
            let phone = text(value.phone, "citizen.phone", required: false, maxLength: 20)
            let locale = text(value.locale, "citizen.locale", required: false, maxLength: 10) ?? "pt-PT"
            if let email, !EmailAddressRule.isValid(email) {
                fail("citizen.email", Self.emailRuleText)
            }
            if let phone, phone.range(of: #"^\+?[0-9 ]{6,20}$"#, options: .regularExpression) == nil {
                fail("citizen.phone", "must be a phone number such as +351912345678")
            }
            if email == nil && phone == nil && value.email?.hasWrongType != true && value.phone?.hasWrongType != true {
                fail("citizen", "needs an email or a phone")
            }
            if !Self.supportedLocales.contains(locale) {
                fail("citizen.locale", "must be one of pt-PT, en")
            }
            if let name {
                citizen = Citizen(name: name, email: email, phone: phone, locale: locale)
            }
        } else {
            fail("citizen", body.citizen?.hasWrongType == true ? "must be an object" : "is required")
        }

        var companions: [Companion] = []
        if let member = body.companions {
            if member.hasWrongType {
                fail("companions", "must be an array of {role, name, email?, phone?}")
            } else if let list = member.value {
                if list.count > Companion.maximumCount {
                    fail("companions", "at most \(Companion.maximumCount) companions")
                }
                for (index, item) in list.prefix(Companion.maximumCount).enumerated() {
                    let prefix = "companions[\(index)]"
                    let roleText = text(item.role, "\(prefix).role", required: true, maxLength: 20)
                    let role = roleText.flatMap(Companion.Role.init(rawValue:))
                    if roleText != nil && role == nil { fail("\(prefix).role", "must be interpreter or representative") }
                    let name = text(item.name, "\(prefix).name", required: true, maxLength: 200)
                    let email = text(item.email, "\(prefix).email", required: false, maxLength: 254)
                    let phone = text(item.phone, "\(prefix).phone", required: false, maxLength: 20)
                    if let email, !EmailAddressRule.isValid(email) {
                        fail("\(prefix).email", Self.emailRuleText)
                    }
                    if let phone, phone.range(of: #"^\+?[0-9 ]{6,20}$"#, options: .regularExpression) == nil {
                        fail("\(prefix).phone", "must be a phone number such as +351912345678")
                    }
                    if let role, let name { companions.append(Companion(role: role, name: name, email: email, phone: phone)) }
                }
            }
        }

        var notifyCitizen = true
        if let member = body.notifyCitizen {
            if member.hasWrongType { fail("notifyCitizen", "must be a boolean") }
            notifyCitizen = member.value ?? true
        }

        guard errors.isEmpty, let service, let startsAt, let endsAt, let citizen else {
            return .failure(.validationFailed(errors))
        }
        guard endsAt > now else {
            return .failure(
                Problem(
                    .unprocessableContent, code: "slot_in_past", title: "The booked slot is over",
                    detail: "endsAt is in the past"))
        }
        return .success(
            Booking(
                service: service, startsAt: startsAt, endsAt: endsAt, provider: provider, attendantID: attendantID,
                topic: topic, citizen: citizen, notifyCitizen: notifyCitizen, companions: companions))
    }
}
