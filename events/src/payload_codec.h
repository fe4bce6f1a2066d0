#pragma once
// Payload tables kept in the decider state as standalone FlatBuffers (so that an event that
// changes a value can carry the payload it replaces), wrapped as JSON binary values.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "flatbuffers/flatbuffers.h"

namespace veeduria::events {

template <typename T>  // T: an object-API type, e.g. schema::GoalDefinedT
nlohmann::json PackPayload(const T& obj) {
  flatbuffers::FlatBufferBuilder fbb(256);
  fbb.Finish(T::TableType::Pack(fbb, &obj));
  std::vector<uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  return nlohmann::json::binary(std::move(bytes));
}

// Packs a table read from an event, without the value it replaced (no unbounded nesting).
template <typename Table>
nlohmann::json PackWithoutPrevious(const Table* table) {
  std::unique_ptr<typename Table::NativeTableType> obj(table->UnPack());
  obj->previous.reset();
  return PackPayload(*obj);
}

// The same as standalone bytes, for the typed records (records.h).
template <typename Table>
std::string PackWithoutPreviousBytes(const Table* table) {
  std::unique_ptr<typename Table::NativeTableType> obj(table->UnPack());
  obj->previous.reset();
  flatbuffers::FlatBufferBuilder fbb(256);
  fbb.Finish(Table::Pack(fbb, obj.get()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// REQUIRES: bytes written by PackWithoutPreviousBytes for this table type.
template <typename T>
std::unique_ptr<T> UnpackPayloadBytes(std::string_view bytes) {
  return std::unique_ptr<T>(
      flatbuffers::GetRoot<typename T::TableType>(reinterpret_cast<const uint8_t*>(bytes.data()))->UnPack());
}

template <typename T>
std::unique_ptr<T> UnpackPayload(const nlohmann::json& packed) {
  const auto& bytes = packed.get_binary();
  return std::unique_ptr<T>(flatbuffers::GetRoot<typename T::TableType>(bytes.data())->UnPack());
}

}  // namespace veeduria::events
