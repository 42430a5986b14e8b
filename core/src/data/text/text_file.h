#pragma once
// Helpers shared by the text readers (not installed): whole-file reads, UTF-8 checks and the
// file:line prefixes of their messages.
#include <cstddef>
#include <string>
#include <string_view>

namespace losslab::Internal {

// The whole file as bytes. Error "<path>: <what> not found" when it does not exist.
std::string readWholeFile(const std::string& path, const std::string& what);

// Offset of the first byte that does not start or continue a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF are ill-formed); npos if none.
std::size_t findInvalidUtf8(std::string_view bytes);

// 1-based line of `offset`: one plus the line feeds before it.
std::size_t lineOfOffset(std::string_view bytes, std::size_t offset);

// Throws Error "<path>:<line>: invalid UTF-8 ..." when `bytes` is not UTF-8.
void requireUtf8(std::string_view bytes, const std::string& path);

// For a file of text that is parsed whole (an experiment file): Error "<file>: the file is
// UTF-16 or UTF-32 ..." for such a byte order mark, "<file>:<line>:<column>: a NUL byte ..."
// (a parser would end the text there) or "...: invalid UTF-8 (byte 0xE9) ...".
void requireUtf8TextFile(std::string_view text, const std::string& file);

// A byte for a message: "0xE9".
std::string hexByte(unsigned char byte);

// Length of a leading UTF-8 byte order mark (3) or 0.
std::size_t bomLength(std::string_view bytes);

// `text` in double quotes for a message, cut to `limit` bytes (on a UTF-8 boundary) with "...".
std::string quoteForMessage(std::string_view text, std::size_t limit = 60);

} // namespace losslab::Internal
