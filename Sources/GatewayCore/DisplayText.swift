import Foundation

/// Text for people: HTML escaping and appointment times in the agency's time zone.
public enum DisplayText {
    /// Escapes the five HTML-significant characters.
    public static func htmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }

    /// "terça-feira, 1 de dezembro de 2026, às 10:00" or "Tuesday, 1 December 2026 at 10:00", Lisbon time.
    public static func appointmentTime(_ date: Date, english: Bool) -> String {
        lisbonFormatter(english: english, format: english ? "EEEE, d MMMM yyyy 'at' HH:mm" : "EEEE, d 'de' MMMM 'de' yyyy, 'às' HH:mm")
            .string(from: date)
    }

    /// "10:00", Lisbon time.
    public static func clockTime(_ date: Date, english: Bool) -> String {
        lisbonFormatter(english: english, format: "HH:mm").string(from: date)
    }

    private static func lisbonFormatter(english: Bool, format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: english ? "en_GB" : "pt_PT")
        formatter.timeZone = TimeZone(identifier: "Europe/Lisbon")
        formatter.dateFormat = format
        return formatter
    }
}
