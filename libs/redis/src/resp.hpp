#pragma once
// Internal to libs/redis: RESP, the protocol's bytes, both ways and no I/O. Commands are
// written here (arrays of bulk strings); replies are parsed by hiredis's reader.
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "suite/redis/client.hpp"

struct redisReader;

namespace suite::redis::detail {

inline void AppendCount(std::string& out, char kind, std::size_t n) {
  char buf[24];
  buf[0] = kind;
  const auto end = std::to_chars(buf + 1, buf + sizeof buf - 2, n).ptr;
  end[0] = '\r';
  end[1] = '\n';
  out.append(buf, static_cast<std::size_t>(end + 2 - buf));
}

/// Appends a command: an array of bulk strings (binary-safe, no quoting).
template <class Args>
void Encode(std::string& out, const Args& args) {
  AppendCount(out, '*', args.size());
  for (const auto& a : args) {
    AppendCount(out, '$', a.size());
    out.append(a.data(), a.size());
    out += "\r\n";
  }
}

/// Replies from the bytes of one connection, in order.
class ReplyReader {
 public:
  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;
  /// false: the bytes break the protocol (the connection is of no further use).
  bool Feed(std::string_view bytes);
  /// The next whole reply; nullopt when more bytes are needed. `broken` is set when the bytes
  /// break the protocol.
  std::optional<Reply> Next(bool& broken);

 private:
  redisReader* reader_;
};

}  // namespace suite::redis::detail
