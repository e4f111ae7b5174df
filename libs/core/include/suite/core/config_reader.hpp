#pragma once
/// Reading a configuration document as data: every error is collected with its JSON path
/// ("/routes/3/auth: must be one of none, api_key, ..."), unknown keys are errors (a typo must
/// not silently become a default), and each default is written once, in the struct the reader
/// fills. Nothing throws; the caller looks at `errors` when done.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace suite::core {

class ConfigReader {
 public:
  /// `j` must outlive the reader; `errors` collects what is wrong.
  ConfigReader(const nlohmann::json& j, std::vector<std::string>& errors, std::string path = "");
  const std::string& path() const { return path_; }
  /// Records an error unless this is an object (then true).
  bool IsObject();
  /// Every key that is not listed is an error.
  void OnlyKeys(std::initializer_list<std::string_view> keys);
  bool Has(std::string_view key) const;
  /// The member `key` (an object or array in its own right), when present.
  std::optional<ConfigReader> At(std::string_view key);
  /// The elements of the array `key` (an error when it is not an array; none when absent).
  std::vector<ConfigReader> Items(std::string_view key);

  void Required(std::string_view key, std::string& out);
  void Optional(std::string_view key, std::string& out);
  void Optional(std::string_view key, std::optional<std::string>& out);
  void Optional(std::string_view key, bool& out);
  void Optional(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max);
  /// Accepts a JSON integer in [min, max].
  template <class Int>
  void OptionalInt(std::string_view key, Int& out, std::int64_t min, std::int64_t max) {
    std::int64_t v = static_cast<std::int64_t>(out);
    Optional(key, v, min, max);
    out = static_cast<Int>(v);
  }
  template <class Int>
  void OptionalInt(std::string_view key, std::optional<Int>& out, std::int64_t min, std::int64_t max) {
    if (!Has(key)) return;
    std::int64_t v = 0;
    Optional(key, v, min, max);
    out = static_cast<Int>(v);
  }
  /// A list of strings.
  void Optional(std::string_view key, std::vector<std::string>& out);
  /// One of `names`.
  template <class E>
  void OptionalEnum(std::string_view key, E& out, const std::vector<std::pair<std::string_view, E>>& names) {
    std::optional<std::string> text;
    Optional(key, text);
    if (!text) return;
    for (const auto& [name, value] : names)
      if (name == *text) {
        out = value;
        return;
      }
    std::string list;
    for (const auto& [name, value] : names) list += (list.empty() ? "" : ", ") + std::string(name);
    Fail(key, "must be one of " + list);
  }
  /// Records "<path>/<key>: <why>" (`key` empty: the path itself).
  void Fail(std::string_view key, const std::string& why);

 private:
  std::string Path(std::string_view key) const;
  const nlohmann::json* Member(std::string_view key) const;
  const nlohmann::json& j_;
  std::vector<std::string>& errors_;
  std::string path_;
};

}  // namespace suite::core
