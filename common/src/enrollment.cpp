#include "common/enrollment.h"

#include "common/xml.h"

namespace common {

namespace {

std::string Attr(std::string_view s) { return xml::EscapeAttribute(xml::SanitizeText(s, kMaxEnrollBytes)); }

}  // namespace

std::string EnrollRequestXml(const EnrollRequest& r) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<enroll version=\"1\"";
  if (!r.host.empty()) x += " host=\"" + Attr(r.host) + "\"";
  if (!r.secret.empty()) x += " secret=\"" + Attr(r.secret) + "\"";
  x += " csr=\"" + Attr(r.csr_pem) + "\"/>\n";
  return x;
}

StatusOr<EnrollRequest> ParseEnrollRequest(std::string_view body, const std::string& source, pki::CsrInfo* key) {
  xml::Limits limits;
  limits.max_bytes = kMaxEnrollBytes;
  limits.max_elements = 4;
  ASSIGN_OR_RETURN(xml::Document doc, xml::Document::Parse(body, source, "enroll", limits));
  xml::Element e = doc.root();
  RETURN_IF_ERROR(e.Attributes({"version", "csr"}, {"host", "secret"}));
  RETURN_IF_ERROR(e.Expect("version", "1"));
  RETURN_IF_ERROR(e.Children({}).status());
  EnrollRequest r;
  RETURN_IF_ERROR(e.Token("host", &r.host));
  xml::TextRule secret_rule;
  secret_rule.min_bytes = 1;
  secret_rule.max_bytes = 128;
  if (e.Has("secret")) RETURN_IF_ERROR(e.String("secret", &r.secret, secret_rule));
  xml::TextRule csr_rule;
  csr_rule.min_bytes = 1;
  csr_rule.max_bytes = pki::kMaxCsrBytes;
  csr_rule.line_breaks = true;
  RETURN_IF_ERROR(e.String("csr", &r.csr_pem, csr_rule));
  auto info = pki::ParseCsr(r.csr_pem);
  if (!info.ok()) return InvalidArgument(source + ": " + info.status().message());
  if (key != nullptr) *key = std::move(info).value();
  return r;
}

}  // namespace common
