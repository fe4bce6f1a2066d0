// Evidence bundles: writing and offline verification (bundle.h; format in docs/evidence.md).

#include "veeduria/consumers/bundle.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "veeduria/events/merkle.h"
#include "veeduria/events/render.h"

namespace veeduria::consumers {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string Num(size_t i) {
  std::string s = std::to_string(i);
  return std::string(s.size() < 4 ? 4 - s.size() : 0, '0') + s;
}

Status WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  return out ? Status::Ok() : Status::IOError("cannot write " + path.string());
}

bool ReadFile(const fs::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

ojson PositionJson(const events::LogPosition& p) {
  return {{"topic", p.topic}, {"partition", p.partition}, {"offset", p.offset}, {"lsn", p.lsn}};
}

std::string Hex(const events::Hash& h) { return events::ToHex(h); }

}  // namespace

Status WriteBundle(const BundleInput& in, const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir) && !fs::is_empty(dir, ec))
    return Status::AlreadyExists(dir + " exists and is not empty");
  for (const char* sub : {"", "events", "proofs", "schema"}) {
    fs::create_directories(fs::path(dir) / sub, ec);
    if (ec) return Status::IOError("cannot create " + dir + "/" + sub + ": " + ec.message());
  }
  const fs::path root(dir);
  const std::string cp_json =
      events::RenderEventJson(in.checkpoint.bytes, in.checkpoint.hash, &in.checkpoint.position);
  json cp = json::parse(cp_json);
  const uint64_t tree_size = cp["payload"].value("tree_size", uint64_t{0});
  const std::string key_id = cp["payload"].value("key_id", std::string());

  ojson manifest;
  manifest["format"] = kBundleFormat;
  manifest["created_at"] = in.created_at;
  manifest["selection"] = {{"entity", in.selection.entity},
                           {"campaign", in.selection.campaign},
                           {"milestone", in.selection.milestone},
                           {"from", in.selection.from},
                           {"to", in.selection.to}};
  manifest["hashes"] =
      "sha256 = SHA-256(event bytes); leaf_hash = SHA-256(0x00 || event bytes); nodes SHA-256(0x01 || left "
      "|| "
      "right) (RFC 6962); the signature is Ed25519 over \"veeduria checkpoint v1\\n<tree_size>\\n<root "
      "hex>\\n\"";
  manifest["checkpoint"] = {{"bytes", "checkpoint.vdev"},
                            {"json", "checkpoint.json"},
                            {"event_id", cp["envelope"].value("event_id", "")},
                            {"sha256", Hex(in.checkpoint.hash)},
                            {"position", PositionJson(in.checkpoint.position)},
                            {"tree_size", tree_size},
                            {"root_hash", cp["payload"].value("root_hash", "")},
                            {"key_id", key_id}};
  manifest["public_key"] = {{"file", "public_key.pem"}, {"key_id", key_id}};
  manifest["schema"] = {
      {"file", "schema/veeduria.fbs"},
      {"sha256", Hex(events::Sha256(in.schema_fbs))},
      {"decode", "flatc --json --strict-json --raw-binary schema/veeduria.fbs -- events/0001.vdev"}};
  manifest["timeline"] = "timeline.html";

  std::vector<std::string> jsons;
  ojson list = ojson::array();
  for (size_t i = 0; i < in.events.size(); ++i) {
    const auto& e = in.events[i].entry;
    const std::string n = Num(i + 1);
    const std::string js = events::RenderEventJson(e.bytes, e.hash, &e.position);
    jsons.push_back(js);
    json parsed = json::parse(js);
    VEEDURIA_RETURN_IF_ERROR(WriteFile(root / "events" / (n + ".vdev"), e.bytes));
    VEEDURIA_RETURN_IF_ERROR(WriteFile(root / "events" / (n + ".json"), js + "\n"));
    ojson path = ojson::array();
    for (const auto& h : in.events[i].proof) path.push_back(Hex(h));
    ojson proof = {{"event_id", parsed["envelope"].value("event_id", "")},
                   {"leaf_index", e.position.lsn},
                   {"tree_size", tree_size},
                   {"leaf_hash", Hex(events::merkle::LeafHash(e.bytes))},
                   {"path", path}};
    VEEDURIA_RETURN_IF_ERROR(WriteFile(root / "proofs" / (n + ".json"), proof.dump(2) + "\n"));
    list.push_back({{"n", i + 1},
                    {"event_id", parsed["envelope"].value("event_id", "")},
                    {"type", parsed.value("type", "")},
                    {"stream", parsed["envelope"].value("stream", "")},
                    {"stream_seq", parsed["envelope"].value("stream_seq", uint64_t{0})},
                    {"recorded_at", parsed["envelope"].value("recorded_at", "")},
                    {"position", PositionJson(e.position)},
                    {"sha256", Hex(e.hash)},
                    {"bytes", "events/" + n + ".vdev"},
                    {"json", "events/" + n + ".json"},
                    {"proof", "proofs/" + n + ".json"}});
  }
  manifest["events"] = list;
  VEEDURIA_RETURN_IF_ERROR(WriteFile(root / "checkpoint.vdev", in.checkpoint.bytes));
  VEEDURIA_RETURN_IF_ERROR(WriteFile(root / "checkpoint.json", cp_json + "\n"));
  VEEDURIA_RETURN_IF_ERROR(WriteFile(root / "public_key.pem", in.public_key_pem));
  VEEDURIA_RETURN_IF_ERROR(WriteFile(root / "schema" / "veeduria.fbs", in.schema_fbs));
  VEEDURIA_RETURN_IF_ERROR(WriteFile(
      root / "timeline.html", RenderTimelineHtml(in.selection, in.created_at, jsons, cp_json, key_id)));
  const std::string manifest_text = manifest.dump(2) + "\n";
  if (!in.sign_manifest) return Status::InvalidArgument("a bundle needs a signer for its manifest");
  const std::string sig = in.sign_manifest(manifest_text);
  VEEDURIA_RETURN_IF_ERROR(WriteFile(
      root / "manifest.sig", events::ToHex(reinterpret_cast<const uint8_t*>(sig.data()), sig.size()) + "\n"));
  return WriteFile(root / "manifest.json", manifest_text);
}

// ----------------------------------------------------------------------------------------
// verification

namespace {

struct Verifier {
  fs::path root;
  BundleReport report;
  void Problem(std::string file, std::string event_id, std::string check, std::string detail) {
    report.problems.push_back({std::move(file), std::move(event_id), std::move(check), std::move(detail)});
  }
};

std::optional<events::LogPosition> PositionFrom(const json& j) {
  try {
    events::LogPosition p;
    p.topic = j.at("topic").get<std::string>();
    p.partition = j.at("partition").get<uint32_t>();
    p.offset = j.at("offset").get<uint64_t>();
    p.lsn = j.at("lsn").get<uint64_t>();
    return p;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

Result<BundleReport> VerifyBundle(const std::string& dir, const std::string& trusted_key_pem,
                                  const SignatureCheck& check_signature, const KeyParser& parse_key) {
  Verifier v;
  v.root = dir;
  std::string text;
  if (!ReadFile(v.root / "manifest.json", &text)) return Status::NotFound("no manifest.json in " + dir);
  json manifest = json::parse(text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object())
    return Status::InvalidArgument(dir + "/manifest.json is not a JSON object");
  if (manifest.value("format", "") != kBundleFormat)
    return Status::InvalidArgument(dir + "/manifest.json: format is not " + std::string(kBundleFormat));
  const json mcp = manifest.value("checkpoint", json::object());

  // 1. The key: the bundle's, and the trusted one if given.
  std::string key_pem, key_id;
  if (!ReadFile(v.root / "public_key.pem", &key_pem)) {
    v.Problem("public_key.pem", "", "missing", "the public key file is missing");
  } else if (auto k = parse_key(key_pem); !k.ok()) {
    v.Problem("public_key.pem", "", "key", k.status().ToString());
  } else {
    key_id = k->first;
    if (!trusted_key_pem.empty()) {
      auto t = parse_key(trusted_key_pem);
      if (!t.ok())
        v.Problem("--key", "", "key", t.status().ToString());
      else if (t->second != k->second)
        v.Problem("public_key.pem", "", "key",
                  "the bundle's key " + k->first + " is not the trusted key " + t->first);
      else
        key_pem = trusted_key_pem;
    }
  }
  v.report.key_id = key_id;

  // The manifest is signed by the same key: what the bundle claims to hold is the operator's word.
  {
    std::string sig_hex;
    if (!ReadFile(v.root / "manifest.sig", &sig_hex)) {
      v.Problem("manifest.sig", "", "missing", "the manifest's signature is missing");
    } else {
      while (!sig_hex.empty() && (sig_hex.back() == '\n' || sig_hex.back() == '\r')) sig_hex.pop_back();
      const std::optional<std::string> sig =
          sig_hex.size() == 128 ? events::BytesFromHex(sig_hex) : std::nullopt;
      if (!sig || key_pem.empty() || key_id.empty() || !check_signature(text, *sig, key_pem))
        v.Problem("manifest.sig", "", "signature",
                  "the manifest (the list of what the bundle holds) is not signed by key " + key_id +
                      ": it was edited, or an event was added or removed");
    }
  }

  // 2. The checkpoint event and its signature.
  events::Hash root{};
  bool have_root = false;
  std::string cp_json_text;
  std::string cp_bytes;
  const std::string cp_id = mcp.value("event_id", "");
  if (!ReadFile(v.root / "checkpoint.vdev", &cp_bytes)) {
    v.Problem("checkpoint.vdev", cp_id, "missing", "the checkpoint event file is missing");
  } else if (!events::VerifyEventBytes(cp_bytes)) {
    v.Problem("checkpoint.vdev", cp_id, "decode", "not a well-formed event buffer");
  } else {
    const events::Hash h = events::Sha256(cp_bytes);
    if (Hex(h) != mcp.value("sha256", ""))
      v.Problem("checkpoint.vdev", cp_id, "sha256",
                "SHA-256 of the bytes is " + Hex(h) + ", the manifest says " + mcp.value("sha256", ""));
    auto pos = PositionFrom(mcp.value("position", json::object()));
    if (!pos) pos = events::LogPosition{};
    cp_json_text = events::RenderEventJson(cp_bytes, h, &*pos);
    json cp = json::parse(cp_json_text);
    std::string on_disk;
    if (!ReadFile(v.root / "checkpoint.json", &on_disk) || Trim(on_disk) != cp_json_text)
      v.Problem("checkpoint.json", cp_id, "json", "does not match the rendering of checkpoint.vdev");
    if (cp.value("type", "") != "Checkpoint") {
      v.Problem("checkpoint.vdev", cp_id, "type",
                "is a " + cp.value("type", "") + " event, not a Checkpoint");
    } else {
      const json& p = cp["payload"];
      const uint64_t size = p.value("tree_size", uint64_t{0});
      auto r = events::HashFromHex(p.value("root_hash", ""));
      const std::string sig_bytes = events::BytesFromHex(p.value("signature", "")).value_or("");
      v.report.tree_size = size;
      v.report.root_hex = p.value("root_hash", "");
      if (mcp.value("tree_size", uint64_t{0}) != size || mcp.value("root_hash", "") != v.report.root_hex)
        v.Problem("manifest.json", cp_id, "checkpoint", "tree size or root differ from checkpoint.vdev");
      if (p.value("key_id", "") != key_id && !key_id.empty())
        v.Problem("checkpoint.vdev", cp_id, "key",
                  "signed by key " + p.value("key_id", "") + ", the bundle's key is " + key_id);
      if (!r) {
        v.Problem("checkpoint.vdev", cp_id, "root", "no root hash");
      } else if (key_pem.empty() || key_id.empty()) {
        v.Problem("checkpoint.vdev", cp_id, "signature", "no usable key to check the signature with");
      } else if (!check_signature(events::merkle::CheckpointSignedBytes(size, *r), sig_bytes, key_pem)) {
        v.Problem("checkpoint.vdev", cp_id, "signature",
                  "the Ed25519 signature over (tree size " + std::to_string(size) + ", root " + Hex(*r) +
                      ") does not verify with key " + key_id);
      } else {
        root = *r;
        have_root = true;
      }
    }
  }

  // 3. The schema copy.
  {
    std::string fbs;
    const json ms = manifest.value("schema", json::object());
    if (!ReadFile(v.root / "schema" / "veeduria.fbs", &fbs))
      v.Problem("schema/veeduria.fbs", "", "missing", "the schema file is missing");
    else if (Hex(events::Sha256(fbs)) != ms.value("sha256", ""))
      v.Problem("schema/veeduria.fbs", "", "sha256", "the schema differs from the one the manifest names");
  }

  // 4. Every event: bytes, hash, JSON, inclusion proof; then chains.
  struct Seen {
    uint64_t seq;
    events::Hash hash, prev;
    std::string event_id, file;
  };
  std::map<std::string, std::vector<Seen>> streams;
  std::vector<std::string> jsons;
  bool all_rendered = true;
  const json list = manifest.value("events", json::array());
  v.report.events = list.size();
  for (const json& m : list) {
    const std::string id = m.value("event_id", "");
    const std::string file = m.value("bytes", "");
    const size_t before = v.report.problems.size();
    std::string bytes;
    if (file.empty() || file.find("..") != std::string::npos || !ReadFile(v.root / file, &bytes)) {
      v.Problem(file, id, "missing", "the manifest lists this event but its file is missing");
      all_rendered = false;
      continue;
    }
    if (!events::VerifyEventBytes(bytes)) {
      v.Problem(file, id, "decode", "not a well-formed event buffer");
      all_rendered = false;
      continue;
    }
    const events::Hash h = events::Sha256(bytes);
    if (Hex(h) != m.value("sha256", ""))
      v.Problem(file, id, "sha256",
                "SHA-256 of the bytes is " + Hex(h) + ", the manifest says " + m.value("sha256", ""));
    auto pos = PositionFrom(m.value("position", json::object()));
    if (!pos) {
      v.Problem("manifest.json", id, "position", "no log position for this event");
      pos = events::LogPosition{};
    }
    const std::string js = events::RenderEventJson(bytes, h, &*pos);
    jsons.push_back(js);
    json ev = json::parse(js);
    const json& env = ev["envelope"];
    if (env.value("event_id", "") != id)
      v.Problem(file, id, "event_id",
                "the bytes hold event " + env.value("event_id", "") + ", the manifest says " + id);
    std::string on_disk;
    const std::string jfile = m.value("json", "");
    if (jfile.empty() || jfile.find("..") != std::string::npos || !ReadFile(v.root / jfile, &on_disk))
      v.Problem(jfile, id, "missing", "the event's JSON file is missing");
    else if (Trim(on_disk) != js)
      v.Problem(jfile, id, "json", "does not match the canonical rendering of " + file);
    // Inclusion.
    const std::string pfile = m.value("proof", "");
    std::string ptext;
    json proof;
    if (pfile.empty() || pfile.find("..") != std::string::npos || !ReadFile(v.root / pfile, &ptext) ||
        (proof = json::parse(ptext, nullptr, false)).is_discarded()) {
      v.Problem(pfile, id, "missing", "the inclusion proof is missing or not JSON");
    } else if (have_root) {
      std::vector<events::Hash> path;
      bool parsed = proof.contains("path") && proof["path"].is_array();
      if (parsed)
        for (const auto& x : proof["path"]) {
          auto hh = x.is_string() ? events::HashFromHex(x.get<std::string>()) : std::nullopt;
          if (!hh)
            parsed = false;
          else
            path.push_back(*hh);
        }
      const uint64_t index = proof.value("leaf_index", uint64_t{0});
      const uint64_t size = proof.value("tree_size", uint64_t{0});
      if (!parsed)
        v.Problem(pfile, id, "inclusion", "the proof path is not a list of 64-hex hashes");
      else if (index != pos->lsn || size != v.report.tree_size)
        v.Problem(pfile, id, "inclusion",
                  "proof for leaf " + std::to_string(index) + " of " + std::to_string(size) +
                      ", expected leaf " + std::to_string(pos->lsn) + " of the checkpoint's " +
                      std::to_string(v.report.tree_size));
      else if (!events::merkle::VerifyInclusion(events::merkle::LeafHash(bytes), index, size, path, root))
        v.Problem(
            pfile, id, "inclusion",
            "the event's leaf hash and this proof do not reach the checkpoint root " + v.report.root_hex);
    }
    auto prev = events::HashFromHex(env.value("prev_hash", ""));
    streams[env.value("stream", "")].push_back(
        {env.value("stream_seq", uint64_t{0}), h, prev.value_or(events::Hash{}), id, file});
    if (v.report.problems.size() == before) ++v.report.events_verified;
  }
  for (auto& [stream, seen] : streams) {
    std::sort(seen.begin(), seen.end(), [](const Seen& a, const Seen& b) { return a.seq < b.seq; });
    std::string ranges;
    size_t start = 0;
    for (size_t i = 0; i < seen.size(); ++i) {
      if (i > 0 && seen[i].seq == seen[i - 1].seq) {
        v.Problem(seen[i].file, seen[i].event_id, "chain",
                  "stream " + stream + " sequence " + std::to_string(seen[i].seq) + " appears twice");
        continue;
      }
      if (seen[i].seq == 1 && seen[i].prev != events::GenesisHash(stream))
        v.Problem(seen[i].file, seen[i].event_id, "chain",
                  "the first event of stream " + stream + " does not chain to the stream's genesis");
      if (i > 0 && seen[i].seq == seen[i - 1].seq + 1 && seen[i].prev != seen[i - 1].hash)
        v.Problem(seen[i].file, seen[i].event_id, "chain",
                  "stream " + stream + " sequence " + std::to_string(seen[i].seq) +
                      ": prev_hash is not the hash of " + seen[i - 1].event_id + " (sequence " +
                      std::to_string(seen[i - 1].seq) + ")");
      if (i + 1 == seen.size() || seen[i + 1].seq != seen[i].seq + 1) {
        ranges += (ranges.empty() ? "" : ", ") + std::to_string(seen[start].seq) +
                  (i > start ? "–" + std::to_string(seen[i].seq) : "");
        start = i + 1;
      }
    }
    v.report.notes.push_back("stream " + stream + ": sequences " + ranges);
  }

  // 5. The timeline is what these events render to.
  if (all_rendered && !cp_json_text.empty()) {
    BundleSelection sel;
    const json s = manifest.value("selection", json::object());
    sel.entity = s.value("entity", "");
    sel.campaign = s.value("campaign", "");
    sel.milestone = s.value("milestone", "");
    sel.from = s.value("from", "");
    sel.to = s.value("to", "");
    std::string html;
    if (!ReadFile(v.root / "timeline.html", &html))
      v.Problem("timeline.html", "", "missing", "the timeline is missing");
    else if (html != RenderTimelineHtml(sel, manifest.value("created_at", ""), jsons, cp_json_text,
                                        mcp.value("key_id", "")))
      v.Problem("timeline.html", "", "timeline",
                "does not match the timeline rendered from the bundle's events");
  }
  return v.report;
}

}  // namespace veeduria::consumers
