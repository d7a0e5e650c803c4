import Testing

@testable import GatewayHTTP

@Suite("Page templates and declared routes")
struct TemplateAndRouteTests {
    @Test("Placeholders are filled in one pass: an inserted value is never substituted again")
    func onePass() {
        let html = PageTemplate.render(
            "<html lang=\"{{lang}}\"><dd>{{service}}</dd>{{unknown}}{{", ["lang": "pt-PT", "service": "{{lang}} <b>"])
        #expect(html == "<html lang=\"pt-PT\"><dd>{{lang}} &lt;b&gt;</dd>{{unknown}}{{")
    }

    @Test("The shipped openapi.yaml declares the methods of each path, with templated segments")
    func declaredMethods() {
        #expect(DeclaredRoutes.methods(for: "/v1/sessions/B-1") == ["GET", "PUT", "DELETE"])
        #expect(DeclaredRoutes.methods(for: "/console") == ["GET"])
        #expect(DeclaredRoutes.methods(for: "/v1/sessions/B-1/access-code") == ["POST"])
        #expect(DeclaredRoutes.methods(for: "/no/such/path").isEmpty)
        #expect(DeclaredRoutes.methods(for: "/v1/sessions//access-code").isEmpty)
    }
}
