#include "veeduria/events/command.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>

namespace veeduria::events {
namespace {

using nlohmann::json;

enum class Kind {
  kString,      // non-empty string
  kOptString,   // string, may be empty
  kEntity,      // 2- or 5-digit DANE code
  kDepartment,  // 2-digit code
  kScope,       // entity code, department code or "national"
  kDate,        // YYYY-MM-DD
  kInt,         // integer
  kYear,        // integer 1900..2200
  kNumber,      // finite JSON number
  kBool,
  kEmail,
  kSha256,  // 64 hex digits
  kEnum,
  kMoney,         // any JSON value; `not_pesos` is a rule checked by decide()
  kObjects,       // array of objects described by `sub`
  kMoneyMap,      // {source: money}
  kFinancialMap,  // {source: {compromisos, obligaciones, pagos}} with money values
  kValueMap,      // {code: scalar}
  kNumberMap,     // {name: number}
  kPeriod,        // [start_year, end_year]
};

struct Field {
  const char* name;
  Kind kind;
  bool required = true;
  std::vector<Field> sub = {};
  std::vector<std::string> values = {};
};

const std::vector<Field> kDocument = {
    {"name", Kind::kString, false}, {"kind", Kind::kString, false}, {"sha256", Kind::kSha256}};

const std::map<std::string, std::vector<Field>>& Catalogue() {
  static const auto* m = new std::map<std::string, std::vector<Field>>{
      {"init",
       {{"clock", Kind::kEnum, true, {}, {"system", "simulated"}},
        {"admin", Kind::kEmail},
        {"partitions", Kind::kInt, false}}},
      {"register_entity",
       {{"entity", Kind::kEntity},
        {"name", Kind::kString},
        {"kind", Kind::kEnum, true, {}, {"municipio", "distrito", "departamento"}},
        {"department", Kind::kDepartment}}},
      {"load_catalog",
       {{"version", Kind::kString},
        {"rows",
         Kind::kObjects,
         true,
         {{"indicator", Kind::kString},
          {"name", Kind::kString},
          {"unit", Kind::kOptString, false},
          {"principal", Kind::kBool, false}}}}},
      {"open_campaign",
       {{"campaign", Kind::kString},
        {"system", Kind::kEnum, true, {}, {"kpt", "gestionweb"}},
        {"vigencia", Kind::kYear},
        {"milestones",
         Kind::kObjects,
         true,
         {{"id", Kind::kString},
          {"activity", Kind::kEnum, true, {}, {"report", "validation", "adjustments", "guide", "opening"}},
          {"cut", Kind::kDate, false},
          {"deadline", Kind::kDate}}},
        {"variables",
         Kind::kObjects,
         false,
         {{"code", Kind::kString},
          {"name", Kind::kString},
          {"type", Kind::kEnum, true, {}, {"pesos", "number", "boolean", "text"}}}}}},
      {"extend_deadline",
       {{"campaign", Kind::kString},
        {"milestone", Kind::kString},
        {"deadline", Kind::kDate},
        {"reason", Kind::kString}}},
      {"request_leader",
       {{"entity", Kind::kEntity},
        {"email", Kind::kEmail},
        {"name", Kind::kString},
        {"supports", Kind::kObjects, true, kDocument}}},
      {"activate_leader", {{"request_id", Kind::kString}}},
      {"request_password_reset", {{"user", Kind::kEmail}}},
      {"complete_password_reset", {{"user", Kind::kEmail}}},
      {"grant_role",
       {{"user", Kind::kEmail},
        {"role",
         Kind::kEnum,
         true,
         {},
         {"reporter", "department_reviewer", "dnp", "auditor", "control_body"}},
        {"scope", Kind::kScope}}},
      {"revoke_role",
       {{"user", Kind::kEmail},
        {"role",
         Kind::kEnum,
         true,
         {},
         {"reporter", "department_reviewer", "dnp", "auditor", "control_body"}},
        {"scope", Kind::kScope}}},
      {"upload_plan",
       {{"entity", Kind::kEntity},
        {"plan", Kind::kString},
        {"name", Kind::kString},
        {"period", Kind::kPeriod},
        {"document_sha256", Kind::kSha256}}},
      {"define_goal",
       {{"entity", Kind::kEntity},
        {"plan", Kind::kString},
        {"goal", Kind::kString},
        {"cpi_indicator", Kind::kString},
        {"name", Kind::kString},
        {"unit", Kind::kString},
        {"baseline", Kind::kNumber, false},
        {"target", Kind::kNumber},
        {"accumulation", Kind::kEnum, true, {}, {"acumulativo", "no_acumulativo"}}}},
      {"homologate_goal",
       {{"entity", Kind::kEntity},
        {"plan", Kind::kString},
        {"goal", Kind::kString},
        {"cpi_indicator", Kind::kString}}},
      {"program_goal",
       {{"entity", Kind::kEntity},
        {"plan", Kind::kString},
        {"goal", Kind::kString},
        {"year", Kind::kYear},
        {"physical", Kind::kNumber},
        {"resources", Kind::kMoneyMap, false}}},
      {"report_progress",
       {{"entity", Kind::kEntity},
        {"plan", Kind::kString},
        {"goal", Kind::kString},
        {"campaign", Kind::kString},
        {"milestone", Kind::kString},
        {"physical_ytd", Kind::kNumber},
        {"financial", Kind::kFinancialMap, false},
        {"evidence", Kind::kObjects, false, kDocument},
        {"note", Kind::kOptString, false}}},
      {"submit_report",
       {{"entity", Kind::kEntity}, {"campaign", Kind::kString}, {"milestone", Kind::kString}}},
      {"report_gestion",
       {{"entity", Kind::kEntity},
        {"campaign", Kind::kString},
        {"variables", Kind::kValueMap},
        {"evidence", Kind::kObjects, false, kDocument}}},
      {"validate_report",
       {{"entity", Kind::kEntity},
        {"campaign", Kind::kString},
        {"milestone", Kind::kString},
        {"note", Kind::kOptString, false}}},
      {"request_adjustment",
       {{"entity", Kind::kEntity},
        {"campaign", Kind::kString},
        {"milestone", Kind::kString},
        {"kind", Kind::kEnum, true, {}, {"adjustment", "clarification"}},
        {"items",
         Kind::kObjects,
         true,
         {{"goal", Kind::kString, false},
          {"variable", Kind::kString, false},
          {"observation", Kind::kString}}},
        {"due", Kind::kDate}}},
      {"answer_adjustment",
       {{"request_id", Kind::kString},
        {"note", Kind::kOptString},
        {"evidence", Kind::kObjects, false, kDocument}}},
      {"notify_noncompliance",
       {{"entity", Kind::kEntity},
        {"campaign", Kind::kString},
        {"milestone", Kind::kString},
        {"reason", Kind::kEnum, true, {}, {"not_reported", "adjustments_not_made"}},
        {"channel", Kind::kEnum, true, {}, {"email", "certified_mail"}},
        {"message_sha256", Kind::kSha256}}},
      {"refer_to_control_body",
       {{"entity", Kind::kEntity},
        {"campaign", Kind::kString},
        {"milestone", Kind::kString},
        {"control_body", Kind::kString},
        {"case", Kind::kString},
        {"reason", Kind::kString}}},
      {"record_mdm_inputs",
       {{"entity", Kind::kEntity},
        {"vigencia", Kind::kYear},
        {"methodology", Kind::kString},
        {"inputs", Kind::kNumberMap},
        {"group", Kind::kString, false},
        {"source", Kind::kString}}},
      {"publish_mdm_score",
       {{"entity", Kind::kEntity},
        {"vigencia", Kind::kYear},
        {"methodology", Kind::kString},
        {"gestion", Kind::kNumber},
        {"resultados", Kind::kNumber},
        {"ajuste", Kind::kNumber},
        {"mdm", Kind::kNumber},
        {"national_position", Kind::kInt},
        {"group_position", Kind::kInt, false},
        {"inputs_digest", Kind::kSha256}}},
  };
  return *m;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string Shown(const json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

class Checker {
 public:
  explicit Checker(int line) : line_(line) {}
  std::optional<CommandError> error;

  bool Fail(const std::string& reason, const std::string& path, const std::string& what) {
    if (!error) {
      error = CommandError{reason, path, "line " + std::to_string(line_) + ": field '" + path + "': " + what};
    }
    return false;
  }

  bool CheckObject(const json& obj, const std::vector<Field>& fields, const std::string& prefix,
                   bool top_level) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string& key = it.key();
      if (top_level && (key == "command" || key == "command_id" || key == "actor" || key == "at" ||
                        key == "correlation_id" || key == "causation_id"))
        continue;
      bool known = std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return key == f.name; });
      if (!known) return Fail("unknown_field", prefix + key, "is not a field of this command");
    }
    for (const Field& f : fields) {
      const std::string path = prefix + f.name;
      auto it = obj.find(f.name);
      if (it == obj.end() || it->is_null()) {
        if (f.required) return Fail("missing_field", path, "is required");
        continue;
      }
      if (!CheckValue(*it, f, path)) return false;
    }
    return true;
  }

  bool CheckValue(const json& v, const Field& f, const std::string& path) {
    auto need_string = [&]() {
      if (!v.is_string()) return Fail("bad_field", path, "expected a string, got " + Shown(v));
      return true;
    };
    switch (f.kind) {
      case Kind::kString:
        if (!need_string()) return false;
        if (v.get_ref<const std::string&>().empty()) return Fail("bad_field", path, "must not be empty");
        return true;
      case Kind::kOptString:
        return need_string();
      case Kind::kEntity:
        if (!need_string()) return false;
        if (!IsEntityCode(v.get_ref<const std::string&>()))
          return Fail("bad_field", path,
                      "expected a DANE code of 5 digits (or 2 for a department), got " + Shown(v));
        return true;
      case Kind::kDepartment:
        if (!need_string()) return false;
        if (!IsDepartmentCode(v.get_ref<const std::string&>()))
          return Fail("bad_field", path, "expected a 2-digit department code, got " + Shown(v));
        return true;
      case Kind::kScope:
        if (!need_string()) return false;
        if (v != "national" && !IsEntityCode(v.get_ref<const std::string&>()))
          return Fail("bad_field", path,
                      "expected an entity code, a department code or \"national\", got " + Shown(v));
        return true;
      case Kind::kDate:
        if (!need_string()) return false;
        if (!ParseDate(v.get_ref<const std::string&>()))
          return Fail("bad_field", path, "expected a date YYYY-MM-DD, got " + Shown(v));
        return true;
      case Kind::kInt:
        if (!v.is_number_integer()) return Fail("bad_field", path, "expected an integer, got " + Shown(v));
        return true;
      case Kind::kYear:
        if (!v.is_number_integer() || v.get<int64_t>() < 1900 || v.get<int64_t>() > 2200)
          return Fail("bad_field", path, "expected a year, got " + Shown(v));
        return true;
      case Kind::kNumber:
        if (!v.is_number() || !std::isfinite(v.get<double>()))
          return Fail("bad_field", path, "expected a number, got " + Shown(v));
        return true;
      case Kind::kBool:
        if (!v.is_boolean()) return Fail("bad_field", path, "expected true or false, got " + Shown(v));
        return true;
      case Kind::kEmail: {
        if (!need_string()) return false;
        const auto& s = v.get_ref<const std::string&>();
        const auto at = s.find('@');
        // No '/': a user is an index key of the audit (@<email>), one '/'-separated part of its rows.
        if (s != "system" && (at == std::string::npos || at == 0 || at + 1 >= s.size() ||
                              s.find_first_of(" \t\r\n/") != std::string::npos))
          return Fail("bad_field", path, "expected an e-mail address (no spaces or '/'), got " + Shown(v));
        return true;
      }
      case Kind::kSha256:
        if (!need_string()) return false;
        if (!IsSha256Hex(v.get_ref<const std::string&>()))
          return Fail("bad_field", path, "expected a SHA-256 of 64 hex digits, got " + Shown(v));
        return true;
      case Kind::kEnum: {
        if (!need_string()) return false;
        if (std::find(f.values.begin(), f.values.end(), v.get_ref<const std::string&>()) == f.values.end()) {
          std::string allowed;
          for (const auto& a : f.values) allowed += (allowed.empty() ? "" : ", ") + a;
          return Fail("bad_field", path, "expected one of " + allowed + ", got " + Shown(v));
        }
        return true;
      }
      case Kind::kMoney:
        return true;
      case Kind::kObjects: {
        if (!v.is_array()) return Fail("bad_field", path, "expected an array, got " + Shown(v));
        for (size_t i = 0; i < v.size(); ++i) {
          const std::string p = path + "[" + std::to_string(i) + "]";
          if (!v[i].is_object()) return Fail("bad_field", p, "expected an object, got " + Shown(v[i]));
          if (!CheckObject(v[i], f.sub, p + ".", false)) return false;
        }
        return true;
      }
      case Kind::kMoneyMap:
      case Kind::kValueMap:
      case Kind::kNumberMap:
      case Kind::kFinancialMap: {
        if (!v.is_object()) return Fail("bad_field", path, "expected an object, got " + Shown(v));
        for (auto it = v.begin(); it != v.end(); ++it) {
          const std::string p = path + "." + it.key();
          if (it.key().empty()) return Fail("bad_field", path, "has an empty key");
          const json& x = it.value();
          if (f.kind == Kind::kNumberMap && (!x.is_number() || !std::isfinite(x.get<double>())))
            return Fail("bad_field", p, "expected a number, got " + Shown(x));
          if (f.kind == Kind::kValueMap && !(x.is_number() || x.is_string() || x.is_boolean()))
            return Fail("bad_field", p, "expected a number, string or boolean, got " + Shown(x));
          if (f.kind == Kind::kFinancialMap) {
            if (!x.is_object())
              return Fail("bad_field", p, "expected {compromisos, obligaciones, pagos}, got " + Shown(x));
            for (auto jt = x.begin(); jt != x.end(); ++jt) {
              if (jt.key() != "compromisos" && jt.key() != "obligaciones" && jt.key() != "pagos")
                return Fail("unknown_field", p + "." + jt.key(),
                            "expected compromisos, obligaciones or pagos");
            }
          }
        }
        return true;
      }
      case Kind::kPeriod:
        if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer() ||
            v[0].get<int64_t>() < 1900 || v[1].get<int64_t>() < v[0].get<int64_t>() ||
            v[1].get<int64_t>() - v[0].get<int64_t>() > 10)
          return Fail("bad_field", path, "expected [first_year, last_year], got " + Shown(v));
        return true;
    }
    return true;
  }

 private:
  int line_;
};

// What json::dump(-1, ' ', false, replace) writes, appended to `out` without its output adapter's
// call per character (a third of a command's parse). Strings with nothing to escape or replace
// (bytes 0x20..0x7e but '"' and '\\'), integers and doubles (through the to_chars dump() calls)
// are written here; any other string is json::dump's own, so the bytes are its bytes
// (tests/events/command_test.cc).
void AppendString(const std::string& s, std::string& out) {
  const bool plain =
      std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; });
  if (!plain) {
    out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

void AppendCanonical(const json& j, std::string& out) {
  switch (j.type()) {
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : j.get_ref<const json::object_t&>()) {  // std::map: keys sorted
        if (!first) out += ',';
        first = false;
        AppendString(k, out);
        out += ':';
        AppendCanonical(v, out);
      }
      out += '}';
      return;
    }
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const json& v : j.get_ref<const json::array_t&>()) {
        if (!first) out += ',';
        first = false;
        AppendCanonical(v, out);
      }
      out += ']';
      return;
    }
    case json::value_t::string:
      AppendString(j.get_ref<const std::string&>(), out);
      return;
    case json::value_t::number_unsigned:
    case json::value_t::number_integer: {
      char buf[24];
      const auto r = j.is_number_unsigned() ? std::to_chars(buf, buf + sizeof buf, j.get<uint64_t>())
                                            : std::to_chars(buf, buf + sizeof buf, j.get<int64_t>());
      out.append(buf, r.ptr);
      return;
    }
    case json::value_t::boolean:
      out += j.get<bool>() ? "true" : "false";
      return;
    case json::value_t::null:
      out += "null";
      return;
    case json::value_t::number_float: {  // what dump() does: null when not finite, else to_chars
      const double d = j.get<double>();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[64];
      out.append(buf, nlohmann::detail::to_chars(buf, buf + sizeof buf, d));
      return;
    }
    default:  // discarded and binary values
      break;
  }
  out += j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string CanonicalJson(const nlohmann::json& j) {
  std::string out;
  AppendCanonical(j, out);
  return out;
}

bool IsMunicipalityCode(std::string_view s) { return s.size() == 5 && AllDigits(s); }
bool IsDepartmentCode(std::string_view s) { return s.size() == 2 && AllDigits(s); }
bool IsEntityCode(std::string_view s) { return IsMunicipalityCode(s) || IsDepartmentCode(s); }
bool IsCpiIndicator(std::string_view s) { return s.size() == 9 && AllDigits(s); }

const std::vector<std::string>& CommandNames() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (const auto& [name, fields] : Catalogue()) v->push_back(name);
    return v;
  }();
  return *names;
}

std::string Command::Str(const char* field) const {
  auto it = body.find(std::string_view(field));  // a view: the map's comparisons need no strlen
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool Command::Has(const char* field) const {
  auto it = body.find(std::string_view(field));
  return it != body.end() && !it->is_null();
}

namespace {

json FromSimdjson(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      json o(json::value_t::object);
      auto& fields = o.get_ref<json::object_t&>();
      for (auto [k, v] : simdjson::dom::object(e)) fields.insert_or_assign(std::string(k), FromSimdjson(v));
      return o;  // of repeated keys the last stays, as in json::parse
    }
    case simdjson::dom::element_type::ARRAY: {
      json a(json::value_t::array);
      auto& items = a.get_ref<json::array_t&>();
      for (simdjson::dom::element v : simdjson::dom::array(e)) items.push_back(FromSimdjson(v));
      return a;
    }
    case simdjson::dom::element_type::STRING:
      return json(std::string(std::string_view(e)));
    case simdjson::dom::element_type::INT64: {  // json::parse keeps a non-negative integer unsigned
      const int64_t v = int64_t(e);
      return v >= 0 ? json(static_cast<uint64_t>(v)) : json(v);
    }
    case simdjson::dom::element_type::UINT64:
      return json(uint64_t(e));
    case simdjson::dom::element_type::DOUBLE:
      return json(double(e));
    case simdjson::dom::element_type::BOOL:
      return json(bool(e));
    case simdjson::dom::element_type::NULL_VALUE:
      break;
  }
  return json(nullptr);
}

// "-0" as a number: json::parse makes it a signed integer, simdjson the same 0 as "0".
bool HasNegativeZero(std::string_view text) {
  for (size_t i = text.find("-0"); i != std::string_view::npos; i = text.find("-0", i + 1))
    if (i == 0 || std::string_view(":,[ \t").find(text[i - 1]) != std::string_view::npos) return true;
  return false;
}

}  // namespace

json ParseJson(std::string_view text) {
  if (!HasNegativeZero(text)) {
    thread_local simdjson::dom::parser parser;
    thread_local std::string padded;
    padded.assign(text);
    padded.resize(text.size() + simdjson::SIMDJSON_PADDING);
    simdjson::dom::element root;
    if (parser.parse(padded.data(), text.size(), false).get(root) == simdjson::SUCCESS)
      return FromSimdjson(root);
  }
  // What simdjson refuses or reads differently (numbers beyond 64 bits, "-0", any malformed
  // text) is json::parse's to accept or refuse.
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

ParsedLine ParseCommand(std::string_view text, int line_no) {
  ParsedLine out;
  const std::string where = "line " + std::to_string(line_no) + ": ";
  json j = ParseJson(text);
  if (j.is_discarded()) {
    std::string shown(text.substr(0, 60));
    out.error =
        CommandError{"bad_json", "", where + "not a JSON object (malformed or truncated JSON): " + shown};
    return out;
  }
  if (!j.is_object()) {
    out.error = CommandError{"bad_json", "", where + "expected a JSON object, got " + Shown(j)};
    return out;
  }
  Checker checker(line_no);
  auto need = [&](const char* field) -> const json* {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) {
      checker.Fail("missing_field", field, "is required");
      return nullptr;
    }
    if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
      checker.Fail("bad_field", field, "expected a non-empty string, got " + Shown(*it));
      return nullptr;
    }
    return &*it;
  };
  const json* name = need("command");
  if (!name) {
    out.error = checker.error;
    return out;
  }
  auto spec = Catalogue().find(name->get<std::string>());
  if (spec == Catalogue().end()) {
    out.error = CommandError{"unknown_command", "command",
                             where + "field 'command': unknown command " + Shown(*name)};
    return out;
  }
  const json* id = need("command_id");
  const json* actor = id ? need("actor") : nullptr;
  if (!id || !actor) {
    out.error = checker.error;
    return out;
  }
  Command c;
  c.line = line_no;
  c.name = name->get<std::string>();
  c.command_id = id->get<std::string>();
  c.actor = actor->get<std::string>();
  if (auto it = j.find("at"); it != j.end() && !it->is_null()) {
    std::optional<Micros> at;
    if (it->is_string()) at = ParseRfc3339(it->get_ref<const std::string&>());
    if (!at) {
      checker.Fail("bad_field", "at", "expected an RFC 3339 time with offset, got " + Shown(*it));
      out.error = checker.error;
      return out;
    }
    c.at = at;
  }
  for (const char* opt : {"correlation_id", "causation_id"}) {
    if (auto it = j.find(opt); it != j.end() && !it->is_null()) {
      if (!it->is_string()) {
        checker.Fail("bad_field", opt, "expected a string, got " + Shown(*it));
        out.error = checker.error;
        return out;
      }
    }
  }
  if (!checker.CheckObject(j, spec->second, "", true)) {
    out.error = checker.error;
    return out;
  }
  c.correlation_id = j.value("correlation_id", c.command_id);
  c.causation_id = j.value("causation_id", std::string());
  c.canonical = CanonicalJson(j);
  c.fingerprint = Sha256(c.canonical);
  c.body = std::move(j);
  out.command = std::move(c);
  return out;
}

std::vector<InputLine> SplitLines(std::string_view buffer) {
  std::vector<InputLine> lines;
  if (buffer.substr(0, 3) == "\xEF\xBB\xBF") buffer.remove_prefix(3);
  int line_no = 0;
  size_t pos = 0;
  while (pos < buffer.size()) {
    size_t end = buffer.find('\n', pos);
    if (end == std::string_view::npos) end = buffer.size();
    std::string_view text = buffer.substr(pos, end - pos);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    ++line_no;
    const bool blank = text.find_first_not_of(" \t") == std::string_view::npos;
    if (!blank) lines.push_back({line_no, text});
    pos = end + 1;
  }
  return lines;
}

}  // namespace veeduria::events
