#include "unit_set.h"

#include <algorithm>
#include <set>
#include <utility>

#include "losslab/error.h"

#include "speech_corpus.h"
#include "spm_tools.h"

namespace losslab::speech {

namespace {

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string hexByte(unsigned char byte) {
    static const char* kHex = "0123456789ABCDEF";
    return std::string("0x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

bool isSpecial(const std::string& name) {
    return name == UnitSet::kBlank || name == UnitSet::kUnk || name == UnitSet::kEos;
}

std::vector<std::string> splitTokens(const std::string& text) { return whitespaceFields(text); }

} // namespace

void UnitSet::assign(UnitKind kind, const std::vector<std::string>& units) {
    m_kind = kind;
    m_names.clear();
    m_names.push_back(kBlank);
    m_names.push_back(kUnk);
    m_names.insert(m_names.end(), units.begin(), units.end());
    m_names.push_back(kEos);
    m_idOf.clear();
    m_idOf.emplace(kUnk, 1);
    for (std::size_t i = 0; i < units.size(); ++i) m_idOf.emplace(units[i], static_cast<std::int64_t>(i) + 2);
}

UnitSet UnitSet::characters(const std::vector<std::string>& texts) {
    std::set<char32_t> seen;
    for (std::size_t t = 0; t < texts.size(); ++t) {
        const std::string& text = texts[t];
        for (std::size_t i = 0; i < text.size();) {
            char32_t codePoint = 0;
            const std::size_t length = utf8Length(text, i, &codePoint);
            if (length == 0)
                throw Error("character units: text " + std::to_string(t) + " (\"" + text + "\") is not valid UTF-8 at byte "
                            + std::to_string(i) + " (" + hexByte(static_cast<unsigned char>(text[i])) + ")");
            seen.insert(codePoint);
            i += length;
        }
    }
    std::vector<std::string> units;
    for (const char32_t codePoint : seen) {
        if (codePoint == U' ') {
            units.push_back(kSpace);
            continue;
        }
        // Back to UTF-8.
        std::string s;
        if (codePoint < 0x80) {
            s += static_cast<char>(codePoint);
        } else if (codePoint < 0x800) {
            s += static_cast<char>(0xC0 | (codePoint >> 6));
            s += static_cast<char>(0x80 | (codePoint & 0x3F));
        } else if (codePoint < 0x10000) {
            s += static_cast<char>(0xE0 | (codePoint >> 12));
            s += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (codePoint & 0x3F));
        } else {
            s += static_cast<char>(0xF0 | (codePoint >> 18));
            s += static_cast<char>(0x80 | ((codePoint >> 12) & 0x3F));
            s += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (codePoint & 0x3F));
        }
        units.push_back(s);
    }
    UnitSet set;
    set.assign(UnitKind::Characters, units);
    return set;
}

UnitSet UnitSet::tokens(const std::vector<std::string>& texts) {
    std::set<std::string> seen;
    for (const std::string& text : texts)
        for (std::string& token : splitTokens(text))
            if (!isSpecial(token)) seen.insert(std::move(token));
    UnitSet set;
    set.assign(UnitKind::Tokens, std::vector<std::string>(seen.begin(), seen.end()));
    return set;
}

UnitSet UnitSet::fixed(UnitKind kind, std::vector<std::string> units) {
    if (kind == UnitKind::SentencePiece)
        throw Error("fixed units: SentencePiece units come from a model file (UnitSet::sentencePiece), not a list");
    if (units.empty())
        throw Error("fixed units: the list is empty; expected at least one unit");
    std::set<std::string> seen;
    for (const std::string& unit : units) {
        if (isSpecial(unit))
            throw Error("fixed units: \"" + unit + "\" is a special unit (" + kBlank + ", " + kUnk + ", " + kEos
                        + "), added by UnitSet itself");
        if (!seen.insert(unit).second)
            throw Error("fixed units: \"" + unit + "\" is listed twice");
        if (kind == UnitKind::Characters) {
            if (unit != kSpace && (unit.empty() || utf8Length(unit, 0) != unit.size()))
                throw Error("fixed character units: \"" + unit + "\" is not one UTF-8 character (or \"" + kSpace + "\")");
            if (unit == " ")
                throw Error(std::string("fixed character units: the space is written \"") + kSpace + "\"");
        } else if (unit.empty() || std::any_of(unit.begin(), unit.end(), isSpace)) {
            throw Error("fixed token units: \"" + unit + "\" is empty or holds whitespace; tokens are separated by it");
        }
    }
    UnitSet set;
    set.assign(kind, units);
    return set;
}

UnitSet UnitSet::sentencePiece(const std::string& modelFile) {
    std::vector<std::string> pieces;
    for (std::string& piece : sentencePiecePieces(modelFile))
        if (piece != "<unk>" && piece != "<s>" && piece != "</s>" && piece != "<pad>") pieces.push_back(std::move(piece));
    if (pieces.empty())
        throw Error(modelFile + ": the SentencePiece model has no pieces besides its unknown and control ones");
    UnitSet set;
    set.assign(UnitKind::SentencePiece, pieces);
    set.m_modelFile = modelFile;
    return set;
}

std::vector<std::vector<std::int64_t>> UnitSet::encodeAll(const std::vector<std::string>& texts) const {
    std::vector<std::vector<std::int64_t>> out;
    out.reserve(texts.size());
    if (m_kind != UnitKind::SentencePiece) {
        for (const std::string& t : texts) out.push_back(encode(t));
        return out;
    }
    for (const std::vector<std::string>& pieces : sentencePieceEncode(m_modelFile, texts)) {
        std::vector<std::int64_t> ids;
        for (const std::string& piece : pieces) {
            const auto it = m_idOf.find(piece);
            ids.push_back(it == m_idOf.end() ? unk() : it->second);
        }
        out.push_back(std::move(ids));
    }
    return out;
}

std::vector<std::int64_t> UnitSet::encode(const std::string& text) const {
    std::vector<std::int64_t> ids;
    auto idOf = [&](const std::string& name) {
        const auto it = m_idOf.find(name);
        return it == m_idOf.end() ? unk() : it->second;
    };
    switch (m_kind) {
    case UnitKind::Characters:
        for (std::size_t i = 0; i < text.size();) {
            const std::size_t length = utf8Length(text, i);
            if (length == 0) {
                ids.push_back(unk());
                ++i;
                continue;
            }
            const std::string unit = text.substr(i, length);
            ids.push_back(unit == " " ? idOf(kSpace) : idOf(unit));
            i += length;
        }
        break;
    case UnitKind::Tokens:
        for (const std::string& token : splitTokens(text)) ids.push_back(idOf(token));
        break;
    case UnitKind::SentencePiece:
        return encodeAll({text}).front();
    }
    return ids;
}

std::string UnitSet::decode(const std::vector<std::int64_t>& ids) const {
    for (const std::int64_t id : ids)
        if (id < 0 || id >= size())
            throw Error("unit id " + std::to_string(id) + " is outside the unit set's range 0.." + std::to_string(size() - 1));
    std::string text;
    switch (m_kind) {
    case UnitKind::Characters:
        for (const std::int64_t id : ids) {
            if (id == blank() || id == eos()) continue;
            const std::string& name = m_names[static_cast<std::size_t>(id)];
            text += id == unk() ? kUnkCharacter : name == kSpace ? " " : name;
        }
        break;
    case UnitKind::Tokens:
        for (const std::int64_t id : ids) {
            if (id == blank() || id == eos()) continue;
            if (!text.empty()) text += ' ';
            text += m_names[static_cast<std::size_t>(id)];
        }
        break;
    case UnitKind::SentencePiece: {
        // As SentencePiece decodes: pieces joined, U+2581 a space, no leading space.
        static const std::string kWordStart = "\xE2\x96\x81";
        for (const std::int64_t id : ids) {
            if (id == blank() || id == eos()) continue;
            std::string piece = id == unk() ? std::string(" ") + kUnkCharacter + " " : m_names[static_cast<std::size_t>(id)];
            for (std::size_t at = piece.find(kWordStart); at != std::string::npos; at = piece.find(kWordStart, at + 1))
                piece.replace(at, kWordStart.size(), " ");
            text += piece;
        }
        if (!text.empty() && text.front() == ' ') text.erase(0, 1);
        break;
    }
    }
    return text;
}

} // namespace losslab::speech
