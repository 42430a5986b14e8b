#include "losslab/report/json_text.h"

#include <cmath>
#include <cstdio>

#include "losslab/report/report_table.h"

namespace losslab {

std::string jsonString(std::string_view text) {
    std::string out = "\"";
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(c));
                }
            }
            ++i;
            continue;
        }
        // A UTF-8 sequence: its length from the lead byte, then continuation bytes, no
        // overlong forms, no surrogates, nothing above U+10FFFF.
        const std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        bool valid = len > 0 && c <= 0xf4 && i + len <= n;
        for (std::size_t k = 1; valid && k < len; ++k) valid = (p[i + k] & 0xc0) == 0x80;
        if (valid && len == 3) valid = !(c == 0xe0 && p[i + 1] < 0xa0) && !(c == 0xed && p[i + 1] >= 0xa0);
        if (valid && len == 4) valid = !(c == 0xf0 && p[i + 1] < 0x90) && !(c == 0xf4 && p[i + 1] >= 0x90);
        if (valid) {
            out.append(text.substr(i, len));
            i += len;
        } else {
            out += "\xef\xbf\xbd"; // U+FFFD for the byte that starts no valid sequence
            ++i;
        }
    }
    return out + "\"";
}

std::string jsonNumber(double value) {
    if (std::isnan(value)) return "\"NaN\"";
    if (std::isinf(value)) return value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    return formatFull(value);
}

} // namespace losslab
