// Small string helpers shared by the modules (ASCII only: flags, units, names
// and HTTP headers, never user text), and name tables for enums.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace arkv {

std::string ToLower(std::string_view text);
// Without leading and trailing white space.
std::string_view Trim(std::string_view text);
bool EndsWithIgnoreCase(std::string_view text, std::string_view suffix);

// A row of an enum's name table. The first row of a value gives its name;
// later rows of the same value are accepted aliases.
template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

// The value named `text` (trimmed, case-insensitive), if any.
template <typename E>
std::optional<E> ParseEnum(std::span<const EnumName<E>> table, std::string_view text) {
  const std::string name = ToLower(Trim(text));
  for (const EnumName<E>& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

// The name of `value`, "?" when the table has no row for it.
template <typename E>
std::string_view NameOf(std::span<const EnumName<E>> table, E value) {
  for (const EnumName<E>& row : table) {
    if (row.value == value) return row.name;
  }
  return "?";
}

// "a, b or c": the names (aliases left out), for error messages.
template <typename E>
std::string NameList(std::span<const EnumName<E>> table) {
  std::string list;
  size_t count = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    if (NameOf(table, table[i].value) != table[i].name) continue;  // an alias
    ++count;
  }
  size_t seen = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    if (NameOf(table, table[i].value) != table[i].name) continue;
    list += std::string(seen == 0           ? ""
                        : seen + 1 == count ? " or "
                                            : ", ") +
            std::string(table[i].name);
    ++seen;
  }
  return list;
}

}  // namespace arkv
