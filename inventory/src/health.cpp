// The health document and the HealthBook (inventory/health.h). The format is
// specified in docs/health.md; a change here must change that page too.
// Reading goes through the one strict XML reader (common/xml.h). That reader
// refuses element text, so a message's text is its `text` attribute.
#include "inventory/health.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "common/fs.h"
#include "common/log.h"
#include "common/time.h"
#include "common/uuid.h"
#include "common/xml.h"

namespace inventory {
namespace {

using common::Status;
using common::StatusOr;
using common::xml::Element;

constexpr size_t kMaxMessages = 200;
constexpr size_t kMaxTextBytes = 1000;
// Unix seconds up to 2^40, so that arithmetic on times cannot overflow.
constexpr int64_t kMaxTime = int64_t{1} << 40;
// Weekly at most; 0 is "unknown".
constexpr int64_t kMaxInterval = 7 * 86400;

// 200 messages of 1,000 bytes of text and their attributes stay far below
// 512 KiB; the element count allows a comment or two beside them.
constexpr common::xml::Limits kLimits{.max_bytes = 512u << 10,
                                      .max_elements = 1000,
                                      .max_attributes = 20'000,
                                      .max_value_bytes = 4u << 10};

bool IsMessageId(std::string_view id) {
  if (id.size() < 3 || id.size() > 64 || id.front() == '.' || id.back() == '.' ||
      id.find('.') == std::string_view::npos) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

// One line of at most kMaxTextBytes: what the reader refuses becomes U+FFFD,
// tab and line breaks become spaces.
std::string OneLine(std::string_view text) {
  std::string s = common::xml::SanitizeText(text, kMaxTextBytes);
  std::replace_if(s.begin(), s.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  return s;
}

// Times are written only from 1970 on (FormatRfc3339's range) and read back
// only in [0, kMaxTime].
std::string Time(int64_t t) { return common::FormatRfc3339(std::clamp<int64_t>(t, 0, kMaxTime)); }
std::string Count(uint64_t n) {
  return std::to_string(std::min<uint64_t>(n, static_cast<uint64_t>(common::xml::kMaxDecimal)));
}

Status ReadTime(const Element& el, std::string_view attr, int64_t* out) {
  if (!el.Has(attr)) return Status::Ok();
  std::string text;
  RETURN_IF_ERROR(el.Time(attr, &text, out));
  if (*out < 0 || *out > kMaxTime) return el.ValueError(attr, "is outside 1970 .. 36812");
  return Status::Ok();
}

Status ReadBeacon(const Element& el, HealthBeacon* b) {
  RETURN_IF_ERROR(el.Attributes({"version", "interval", "central", "spool-files", "spool-bytes", "rejected-files",
                                 "disk-free", "upstream-ok"},
                                {"spool-oldest", "upstream-since", "cert-not-after"}));
  RETURN_IF_ERROR(el.Children({}).status());
  RETURN_IF_ERROR(el.Token("version", &b->version));
  RETURN_IF_ERROR(el.Decimal("interval", &b->interval, 0, kMaxInterval));
  RETURN_IF_ERROR(el.Bool("central", &b->central));
  RETURN_IF_ERROR(el.Decimal("spool-files", &b->spool_files));
  RETURN_IF_ERROR(el.Decimal("spool-bytes", &b->spool_bytes));
  RETURN_IF_ERROR(el.Decimal("rejected-files", &b->rejected_files));
  RETURN_IF_ERROR(el.Decimal("disk-free", &b->disk_free));
  RETURN_IF_ERROR(el.Bool("upstream-ok", &b->upstream_ok));
  RETURN_IF_ERROR(ReadTime(el, "spool-oldest", &b->spool_oldest));
  RETURN_IF_ERROR(ReadTime(el, "upstream-since", &b->upstream_since));
  return ReadTime(el, "cert-not-after", &b->cert_not_after);
}

Status ReadMessage(const Element& el, HealthMessage* m) {
  RETURN_IF_ERROR(el.Attributes(
      {"id", "component", "type", "priority", "first-seen", "last-seen", "count", "text"}, {"cleared-at"}));
  RETURN_IF_ERROR(el.Children({}).status());
  m->id = el.Value("id");
  if (!IsMessageId(m->id)) {
    return el.ValueError("id", "is not a message id (3 to 64 of a-z 0-9 . -, like client.beacon-unreachable)");
  }
  RETURN_IF_ERROR(el.Token("component", &m->component));
  const std::string_view type = el.Value("type");
  if (type == "error") {
    m->type = HealthType::kError;
  } else if (type == "warning") {
    m->type = HealthType::kWarning;
  } else {
    return el.ValueError("type", "is not error or warning");
  }
  int64_t priority = 0;
  RETURN_IF_ERROR(el.Decimal("priority", &priority, 1, 3));
  m->priority = static_cast<int>(priority);
  RETURN_IF_ERROR(ReadTime(el, "first-seen", &m->first_seen));
  RETURN_IF_ERROR(ReadTime(el, "last-seen", &m->last_seen));
  RETURN_IF_ERROR(ReadTime(el, "cleared-at", &m->cleared_at));
  RETURN_IF_ERROR(el.Decimal("count", &m->count, 1));
  RETURN_IF_ERROR(el.String("text", &m->text, {.min_bytes = 1, .max_bytes = kMaxTextBytes}));
  if (m->first_seen == 0) return el.ValueError("first-seen", "is not after 1970-01-01T00:00:00Z");
  if (m->last_seen < m->first_seen) return el.AttributeError("last-seen", "<message> 'last-seen' is before 'first-seen'");
  if (el.Has("cleared-at") && m->cleared_at < m->last_seen) {
    return el.AttributeError("cleared-at", "<message> 'cleared-at' is before 'last-seen'");
  }
  return Status::Ok();
}

Status ReadHealth(const Element& root, Health* h) {
  RETURN_IF_ERROR(root.Attributes({"version", "source", "id", "sequence", "sent-at"}));
  RETURN_IF_ERROR(root.Expect("version", "1"));
  const std::string_view source = root.Value("source");
  if (source == "device") {
    h->source = HealthSource::kDevice;
  } else if (source == "beacon") {
    h->source = HealthSource::kBeacon;
  } else {
    return root.ValueError("source", "is not device or beacon");
  }
  h->id = root.Value("id");
  if (h->source == HealthSource::kDevice && !common::IsUuid(h->id)) {
    return root.ValueError("id", "is not a lower-case UUID (a device id)");
  }
  if (h->source == HealthSource::kBeacon && !common::IsToken(h->id, 64)) {
    return root.ValueError("id", "is not a beacon name (1 to 64 of A-Z a-z 0-9 . _ -)");
  }
  // 0 only in a book that has never reported (HealthBook); reports start at 1.
  RETURN_IF_ERROR(root.Decimal("sequence", &h->sequence));
  RETURN_IF_ERROR(ReadTime(root, "sent-at", &h->sent_at));
  ASSIGN_OR_RETURN(auto children, root.Children({"beacon", "message"}));
  for (const Element& c : children) {
    if (c.name() == "beacon") {
      if (h->source == HealthSource::kDevice) return c.Error("<beacon> is for source=\"beacon\" only");
      if (h->beacon) return c.Error("<beacon> is given twice in <health>");
      RETURN_IF_ERROR(ReadBeacon(c, &h->beacon.emplace()));
      continue;
    }
    if (h->messages.size() == kMaxMessages) return c.Error("<health> has more than 200 messages");
    HealthMessage& m = h->messages.emplace_back();
    RETURN_IF_ERROR(ReadMessage(c, &m));
    if (h->messages.size() > 1) {
      const std::string& before = h->messages[h->messages.size() - 2].id;
      if (before == m.id) return c.Error("message '" + m.id + "' is listed twice");
      if (before > m.id) return c.Error("messages must be sorted by id");
    }
  }
  if (h->source == HealthSource::kBeacon && !h->beacon) return root.Error("<health source=\"beacon\"> lacks <beacon>");
  return Status::Ok();
}

// The status a beacon's document carries when the caller gave none (the
// book's own file): valid, and saying nothing.
HealthBeacon NoStatus() {
  HealthBeacon b;
  b.version = "unknown";
  return b;
}

}  // namespace

const char* HealthTypeName(HealthType type) { return type == HealthType::kError ? "error" : "warning"; }

std::string ToXml(const Health& h) {
  using common::xml::EscapeAttribute;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<health version=\"1\" source=\"";
  out += h.source == HealthSource::kBeacon ? "beacon" : "device";
  out += "\" id=\"" + EscapeAttribute(common::xml::SanitizeText(h.id, 64)) + "\" sequence=\"" +
         Count(static_cast<uint64_t>(std::max<int64_t>(h.sequence, 0))) + "\" sent-at=\"" + Time(h.sent_at) + "\">\n";
  if (h.beacon && h.source == HealthSource::kBeacon) {
    const HealthBeacon& b = *h.beacon;
    out += "  <beacon version=\"" + EscapeAttribute(common::xml::SanitizeText(b.version, 64)) + "\" interval=\"" +
           Count(static_cast<uint64_t>(std::clamp<int64_t>(b.interval, 0, kMaxInterval))) + "\" central=\"" +
           (b.central ? "true" : "false") + "\" spool-files=\"" + Count(b.spool_files) + "\" spool-bytes=\"" +
           Count(b.spool_bytes) + "\" rejected-files=\"" + Count(b.rejected_files) + "\" disk-free=\"" +
           Count(b.disk_free) + "\" upstream-ok=\"" + (b.upstream_ok ? "true" : "false") + "\"";
    // Times that are 0 (none, unknown) are left out.
    if (b.spool_oldest > 0) out += " spool-oldest=\"" + Time(b.spool_oldest) + "\"";
    if (b.upstream_since > 0) out += " upstream-since=\"" + Time(b.upstream_since) + "\"";
    if (b.cert_not_after > 0) out += " cert-not-after=\"" + Time(b.cert_not_after) + "\"";
    out += "/>\n";
  }
  for (const HealthMessage& m : h.messages) {
    out += "  <message id=\"" + EscapeAttribute(common::xml::SanitizeText(m.id, 64)) + "\" component=\"" +
           EscapeAttribute(common::xml::SanitizeText(m.component, 64)) + "\" type=\"" + HealthTypeName(m.type) +
           "\" priority=\"" + std::to_string(std::clamp(m.priority, 1, 3)) + "\" first-seen=\"" +
           Time(m.first_seen) + "\" last-seen=\"" + Time(m.last_seen) + "\" count=\"" +
           Count(static_cast<uint64_t>(std::max<int64_t>(m.count, 1))) + "\"";
    if (m.cleared_at != 0) out += " cleared-at=\"" + Time(m.cleared_at) + "\"";
    out += " text=\"" + EscapeAttribute(OneLine(m.text)) + "\"/>\n";
  }
  out += "</health>\n";
  return out;
}

StatusOr<Health> ParseHealthXml(const std::string& xml, const std::string& source) {
  ASSIGN_OR_RETURN(common::xml::Document doc, common::xml::Document::Parse(xml, source, "health", kLimits));
  Health h;
  RETURN_IF_ERROR(ReadHealth(doc.root(), &h));
  return h;
}

// HealthBook.

StatusOr<std::unique_ptr<HealthBook>> HealthBook::Open(const std::string& path, HealthSource source,
                                                        const std::string& id, common::Env* env) {
  std::unique_ptr<HealthBook> book(new HealthBook);
  book->path_ = path;
  book->env_ = env != nullptr ? env : common::Env::Default();
  book->book_.source = source;
  book->book_.id = id;
  auto text = common::ReadFile(path, kLimits.max_bytes, book->env_);
  if (!text.ok()) {
    if (text.status().code() == common::Code::kNotFound) return book;
    return text.status();
  }
  ASSIGN_OR_RETURN(Health kept, ParseHealthXml(*text, path));
  if (kept.source != source || kept.id != id) {
    return common::FailedPrecondition(path + ": the health book is another sender's (" + kept.id + ")");
  }
  kept.beacon.reset();  // a beacon's status is the caller's, given to each Report
  book->book_ = std::move(kept);
  return book;
}

void HealthBook::Raise(const std::string& id, const std::string& component, HealthType type, int priority,
                       const std::string& text, int64_t now) {
  if (!IsMessageId(id) || !common::IsToken(component, 64)) {
    common::LogError("health: refusing to raise a message with a malformed id or component: " +
                     common::xml::SanitizeText(id, 64));
    return;
  }
  auto& list = book_.messages;
  auto it = std::lower_bound(list.begin(), list.end(), id,
                             [](const HealthMessage& m, const std::string& i) { return m.id < i; });
  if (it == list.end() || it->id != id) {
    if (list.size() >= kMaxMessages) {
      common::LogError("health: " + std::to_string(kMaxMessages) + " messages open; " + id + " not kept");
      return;
    }
    it = list.insert(it, HealthMessage{});
  }
  HealthMessage& m = *it;
  if (m.id.empty() || m.cleared_at != 0) {
    // New, or open again after a clearing: a fresh message (the clearing it
    // replaces need not travel, the central sees it open with a new first_seen).
    m = HealthMessage{};
    m.id = id;
    // A message is new to ReportDue when it opened after the last report;
    // one opened in the same second as that report (or while the clock is
    // behind it) is dated a second after it, so the book alone says so.
    m.first_seen = std::max<int64_t>(now, book_.sequence > 0 ? book_.sent_at + 1 : 1);
    m.last_seen = m.first_seen;
  }
  m.component = component;
  m.type = type;
  m.priority = std::clamp(priority, 1, 3);
  m.text = OneLine(text);
  if (m.text.empty()) m.text = id;
  // A clock stepped back must not put last_seen before first_seen.
  m.last_seen = std::max(m.last_seen, now);
  m.count = m.count < common::xml::kMaxDecimal ? m.count + 1 : m.count;
}

void HealthBook::Clear(const std::string& id, int64_t now) {
  for (HealthMessage& m : book_.messages) {
    if (m.id == id && m.cleared_at == 0) m.cleared_at = std::max(now, m.last_seen);
  }
}

bool HealthBook::IsOpen(const std::string& id) const {
  return std::any_of(book_.messages.begin(), book_.messages.end(),
                     [&](const HealthMessage& m) { return m.id == id && m.cleared_at == 0; });
}

std::vector<HealthMessage> HealthBook::Open() const {
  std::vector<HealthMessage> open;
  for (const HealthMessage& m : book_.messages)
    if (m.cleared_at == 0) open.push_back(m);
  return open;
}

bool HealthBook::ReportDue(int64_t now, int64_t heartbeat) const {
  for (const HealthMessage& m : book_.messages) {
    // What the book keeps: a clearing not yet reported stays in it until
    // MarkReported, and a message opened since has first_seen after it.
    if (m.cleared_at != 0 || m.first_seen > book_.sent_at) return true;
  }
  // Also when the clock stepped back by a heartbeat or more.
  return book_.sequence == 0 || std::llabs(now - book_.sent_at) >= heartbeat;
}

Health HealthBook::Report(int64_t now, std::optional<HealthBeacon> beacon) const {
  Health h = book_;
  h.sequence = book_.sequence + 1;
  h.sent_at = now;
  h.beacon = book_.source == HealthSource::kBeacon ? std::optional<HealthBeacon>(beacon.value_or(NoStatus()))
                                                   : std::nullopt;
  return h;
}

void HealthBook::MarkReported(const Health& report) {
  book_.sequence = std::max(book_.sequence, report.sequence);
  book_.sent_at = report.sent_at;
  // A clearing that travelled is forgotten; one made after the report (its
  // message was open in it) stays for the next.
  std::erase_if(book_.messages, [&](const HealthMessage& m) {
    if (m.cleared_at == 0) return false;
    return std::any_of(report.messages.begin(), report.messages.end(), [&](const HealthMessage& r) {
      return r.id == m.id && r.cleared_at == m.cleared_at;
    });
  });
}

Status HealthBook::Save() const {
  Health kept = book_;
  // The file is a health document, which a beacon's must carry its status in.
  if (kept.source == HealthSource::kBeacon) kept.beacon = NoStatus();
  return common::WriteFileAtomic(path_, ToXml(kept), 0600, env_).WithContext("save the health book");
}

}  // namespace inventory
