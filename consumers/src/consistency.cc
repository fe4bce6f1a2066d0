// Consistency proofs between two signed checkpoints: the document and its offline check
// (consistency.h; format in docs/evidence.md).

#include "veeduria/consumers/consistency.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "veeduria/events/merkle.h"
#include "veeduria/events/render.h"
#include "veeduria/schema/veeduria_generated.h"

namespace veeduria::consumers {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string HexOf(std::string_view bytes) {
  return events::ToHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

ojson Side(const events::LogEntry& cp) {
  const auto* p = schema::GetEvent(cp.bytes.data())->payload_as_Checkpoint();  // REQUIRES: a Checkpoint
  return {{"tree_size", p->tree_size()},
          {"root_hash", events::ToHex(p->root_hash()->b()->data(), 32)},
          {"checkpoint", HexOf(cp.bytes)}};
}

// One side of a document ("old" or "new"): its checkpoint's tree size and root, once checked.
struct Checked {
  uint64_t size = 0;
  std::optional<events::Hash> root;  // set when the checkpoint passed every check
};

Checked CheckSide(const json& doc, const char* name, const std::string& key_pem, const std::string& key_id,
                  const SignatureCheck& check_signature, ConsistencyReport* report) {
  Checked out;
  const auto problem = [&](const std::string& what) {
    report->problems.push_back(std::string(name) + ".checkpoint: " + what);
  };
  const json side = doc.value(name, json::object());
  const json size = side.value("tree_size", json());
  const std::string root_hex = side.value("root_hash", "");
  out.size = size.is_number_unsigned() ? size.get<uint64_t>() : 0;
  (std::string_view(name) == "old" ? report->old_size : report->new_size) = out.size;
  (std::string_view(name) == "old" ? report->old_root_hex : report->new_root_hex) = root_hex;
  const std::optional<std::string> bytes = events::BytesFromHex(side.value("checkpoint", ""));
  if (!bytes || !events::VerifyEventBytes(*bytes)) {
    problem("not the hex of a well-formed event buffer");
    return out;
  }
  const schema::Event* ev = schema::GetEvent(bytes->data());
  const schema::Checkpoint* cp = ev->payload_as_Checkpoint();
  if (cp == nullptr || cp->root_hash() == nullptr) {
    problem(std::string("is a ") + schema::EnumNamePayload(ev->payload_type()) + " event, not a Checkpoint");
    return out;
  }
  events::Hash root;
  std::memcpy(root.data(), cp->root_hash()->b()->data(), 32);
  if (!size.is_number_unsigned() || cp->tree_size() != out.size || events::ToHex(root) != root_hex) {
    problem("its tree size " + std::to_string(cp->tree_size()) + " and root " + events::ToHex(root) +
            " are not the declared " + size.dump() + " and " + root_hex);
    return out;
  }
  const std::string signed_by = cp->key_id() ? cp->key_id()->str() : "";
  if (key_pem.empty()) {
    problem("no usable key to check its signature with");
    return out;
  }
  if (signed_by != key_id) {
    problem("signed by key " + signed_by + ", the document's key is " + key_id);
    return out;
  }
  const std::string sig =
      cp->signature()
          ? std::string(reinterpret_cast<const char*>(cp->signature()->data()), cp->signature()->size())
          : std::string();
  if (!check_signature(events::merkle::CheckpointSignedBytes(out.size, root), sig, key_pem)) {
    problem("the Ed25519 signature over (tree size " + std::to_string(out.size) + ", root " + root_hex +
            ") does not verify with key " + key_id);
    return out;
  }
  out.root = root;
  return out;
}

}  // namespace

std::string ConsistencyJson(const events::LogEntry& old_checkpoint, const events::LogEntry& new_checkpoint,
                            const std::vector<events::Hash>& proof, const std::string& public_key_pem) {
  ojson doc = {{"format", kConsistencyFormat}, {"old", Side(old_checkpoint)}, {"new", Side(new_checkpoint)}};
  ojson hashes = ojson::array();
  for (const events::Hash& h : proof) hashes.push_back(events::ToHex(h));
  doc["proof"] = std::move(hashes);
  doc["public_key_pem"] = public_key_pem;
  return doc.dump(2) + "\n";
}

Result<ConsistencyReport> VerifyConsistencyJson(std::string_view text, const std::string& trusted_key_pem,
                                                const SignatureCheck& check_signature,
                                                const KeyParser& parse_key) {
  try {  // a member of another type than the format's throws
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return Status::InvalidArgument("not a JSON object");
    if (doc.value("format", "") != kConsistencyFormat)
      return Status::InvalidArgument("format is not " + std::string(kConsistencyFormat));
    ConsistencyReport report;
    // The key: the document's, and the trusted one if given.
    std::string key_pem = doc.value("public_key_pem", "");
    if (auto k = parse_key(key_pem); !k.ok()) {
      report.problems.push_back("public_key_pem: " + k.status().ToString());
      key_pem.clear();
    } else {
      report.key_id = k->first;
      if (!trusted_key_pem.empty()) {
        auto t = parse_key(trusted_key_pem);
        if (!t.ok()) {
          report.problems.push_back("--key: " + t.status().ToString());
          key_pem.clear();
        } else if (t->second != k->second) {
          report.problems.push_back("public_key_pem: the document's key " + k->first +
                                    " is not the trusted key " + t->first);
          key_pem.clear();
        }
      }
    }
    const Checked old_side = CheckSide(doc, "old", key_pem, report.key_id, check_signature, &report);
    const Checked new_side = CheckSide(doc, "new", key_pem, report.key_id, check_signature, &report);
    std::vector<events::Hash> proof;
    bool proof_readable = doc.contains("proof") && doc["proof"].is_array();
    if (proof_readable)
      for (const json& h : doc["proof"]) {
        std::optional<events::Hash> hash =
            h.is_string() ? events::HashFromHex(h.get<std::string>()) : std::nullopt;
        if (!hash) {
          proof_readable = false;
          break;
        }
        proof.push_back(*hash);
      }
    if (!proof_readable) {
      report.problems.push_back("proof: not a list of 64-hex-digit hashes");
    } else if (!old_side.root || !new_side.root) {
      // a checkpoint failed its checks: nothing to prove from or to
    } else if (old_side.size > new_side.size) {
      report.problems.push_back("proof: the old tree (" + std::to_string(old_side.size) +
                                " events) is larger than the new (" + std::to_string(new_side.size) + ")");
    } else if (!events::merkle::VerifyConsistency(old_side.size, new_side.size, *old_side.root,
                                                  *new_side.root, proof)) {
      report.problems.push_back("proof: it does not lead from the root of the " +
                                std::to_string(old_side.size) + " events to the root of the " +
                                std::to_string(new_side.size) +
                                ": the log was not only appended to between the two checkpoints");
    }
    return report;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("not a consistency document: ") + e.what());
  }
}

}  // namespace veeduria::consumers
