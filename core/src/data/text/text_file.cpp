#include "text_file.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "losslab/data_error.h"
#include "losslab/error.h"

namespace losslab::Internal {

std::string readWholeFile(const std::string& path, const std::string& what) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw DataNotFoundError(path + ": " + what + " not found");
    const std::uintmax_t size = fs::file_size(path, ec);
    std::ifstream in(path, std::ios::binary);
    if (ec || !in)
        throw Error(path + ": cannot open the " + what + " for reading");
    std::string bytes(static_cast<std::size_t>(size), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<std::uintmax_t>(in.gcount()) != size)
        throw Error(path + ": read " + std::to_string(in.gcount()) + " bytes, expected "
                    + std::to_string(size) + " (did the file change while it was read?)");
    return bytes;
}

std::size_t findInvalidUtf8(std::string_view bytes) {
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        // ASCII runs dominate real text; skip them eight bytes at a time.
        while (i + 8 <= n) {
            std::uint64_t word;
            std::copy(s + i, s + i + 8, reinterpret_cast<unsigned char*>(&word));
            if (word & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        // Second-byte ranges per the Unicode standard's table of well-formed sequences.
        std::size_t length = 0;
        unsigned char low = 0x80, high = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            if (c == 0xE0)
                low = 0xA0; // overlong
            if (c == 0xED)
                high = 0x9F; // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            if (c == 0xF0)
                low = 0x90; // overlong
            if (c == 0xF4)
                high = 0x8F; // above U+10FFFF
        } else {
            return i;
        }
        if (i + length > n)
            return i;
        if (s[i + 1] < low || s[i + 1] > high)
            return i;
        for (std::size_t k = 2; k < length; ++k)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return i;
        i += length;
    }
    return std::string_view::npos;
}

std::size_t lineOfOffset(std::string_view bytes, std::size_t offset) {
    offset = std::min(offset, bytes.size());
    return 1 + static_cast<std::size_t>(std::count(bytes.begin(), bytes.begin() + offset, '\n'));
}

void requireUtf8(std::string_view bytes, const std::string& path) {
    const std::size_t bad = findInvalidUtf8(bytes);
    if (bad == std::string_view::npos)
        return;
    const std::size_t lineStart = bytes.rfind('\n', bad == 0 ? 0 : bad - 1);
    const std::size_t column = lineStart == std::string_view::npos || bad == 0 ? bad + 1 : bad - lineStart;
    throw Error(path + ":" + std::to_string(lineOfOffset(bytes, bad)) + ": invalid UTF-8 (byte "
                + hexByte(static_cast<unsigned char>(bytes[bad])) + " at byte " + std::to_string(column)
                + " of the line); expected a UTF-8 text file");
}

// YAML is Unicode text, and yaml-cpp passes any other bytes through: a Latin-1 name would be
// stored as is and break the reports and exports that read it back. A NUL ends the text early
// for yaml-cpp (a key cut short); a UTF-16 file reads as a few odd keys.
void requireUtf8TextFile(std::string_view text, const std::string& file) {
    const auto startsWith = [&](std::string_view mark) { return text.substr(0, mark.size()) == mark; };
    if (startsWith("\xFF\xFE") || startsWith("\xFE\xFF") || startsWith(std::string_view("\0\0\xFE\xFF", 4)))
        throw Error(file + ": the file is UTF-16 or UTF-32 (it starts with the byte order mark " +
                    hexByte(static_cast<unsigned char>(text[0])) + " " + hexByte(static_cast<unsigned char>(text[1])) +
                    "); save it as UTF-8");
    const std::size_t bad = std::min(findInvalidUtf8(text), text.find('\0'));
    if (bad == std::string_view::npos) return;
    const std::size_t lineStart = bad == 0 ? std::string_view::npos : text.rfind('\n', bad - 1);
    const std::size_t column = lineStart == std::string_view::npos ? bad + 1 : bad - lineStart;
    const std::string where = file + ":" + std::to_string(lineOfOffset(text, bad)) + ":" + std::to_string(column);
    if (text[bad] == '\0') throw Error(where + ": a NUL byte; expected UTF-8 text (is the file UTF-16?)");
    throw Error(where + ": invalid UTF-8 (byte " + hexByte(static_cast<unsigned char>(text[bad])) +
                "); expected UTF-8 text (save the file as UTF-8)");
}

std::string hexByte(unsigned char byte) {
    static const char* kHex = "0123456789ABCDEF";
    return std::string("0x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

std::size_t bomLength(std::string_view bytes) {
    return bytes.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
}

std::string quoteForMessage(std::string_view text, std::size_t limit) {
    if (text.size() <= limit)
        return "\"" + std::string(text) + "\"";
    std::size_t cut = limit;
    // Back up over continuation bytes so the message stays valid UTF-8.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
        --cut;
    return "\"" + std::string(text.substr(0, cut)) + "...\"";
}

} // namespace losslab::Internal
