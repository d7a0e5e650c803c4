import GatewayCore

/// Fills `{{name}}` placeholders in one pass over the template: an inserted value is never scanned
/// again, so a value that itself reads `{{lang}}` stays that text. Values are HTML-escaped; unknown
/// placeholders are left as they are.
enum PageTemplate {
    static func render(_ template: String, _ values: [String: String]) -> String {
        var output = ""
        output.reserveCapacity(template.utf8.count)
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            output += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else {
                rest = rest[open.lowerBound...]
                break
            }
            let name = String(afterOpen[..<close.lowerBound])
            if let value = values[name] {
                output += DisplayText.htmlEscaped(value)
            } else {
                output += rest[open.lowerBound..<close.upperBound]
            }
            rest = afterOpen[close.upperBound...]
        }
        output += rest
        return output
    }
}
