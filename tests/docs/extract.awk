# Splits Markdown files into the pieces that check_docs.sh checks. POSIX awk (Debian's mawk).
# Usage: awk -v root=SOURCE_DIR -f extract.awk FILE.md...
#
# One record per line, fields separated by \037, newlines inside a field written as \036:
#   cmd    FILE LINE LANG TEXT   a shell command of a ```sh, ```bash, ```shell or ```console
#                                block; continuation lines ("\" at the end) and here-documents
#                                belong to their command; ```console blocks: only "$ " lines
#   block  FILE LINE LANG TEXT   a whole fenced block of any other language (yaml, sql, json,
#                                none, ...)
#   code   FILE LINE LANG TEXT   each line of such a block (for the losslab-cli flag check)
#   inline FILE LINE -    TEXT   an inline code span of the prose (`...`)
#   prose  FILE LINE -    TEXT   a line of prose (outside fenced blocks)
function rel(path) {
    if (root != "" && index(path, root "/") == 1) return substr(path, length(root) + 2)
    return path
}
function out(kind, line, language, text) {
    gsub(/\037/, " ", text)
    printf "%s\037%s\037%s\037%s\037%s\n", kind, rel(FILENAME), line, language, text
}
function flush() {
    if (cmd != "") out("cmd", cmdLine, lang, cmd)
    cmd = ""
    heredoc = ""
}
function isShell(l) { return l == "sh" || l == "bash" || l == "shell" }

FNR == 1 { inBlock = 0; cmd = ""; heredoc = "" }

{
    line = $0
    sub(/\r$/, "", line)
}

# A fence opens or closes a block. Blocks nested in lists are indented; the indentation of the
# opening fence is removed from the block's lines.
!inBlock && line ~ /^[ \t]*```/ {
    inBlock = 1
    indent = line
    sub(/```.*$/, "", indent)
    lang = line
    sub(/^[ \t]*```[ \t]*/, "", lang)
    sub(/[ \t{].*$/, "", lang)
    block = ""
    blockLine = FNR + 1
    cmd = ""
    heredoc = ""
    next
}
inBlock && line ~ /^[ \t]*```[ \t]*$/ {
    flush()
    if (!isShell(lang) && lang != "console") out("block", blockLine, lang, block)
    inBlock = 0
    next
}

inBlock {
    if (indent != "" && index(line, indent) == 1) line = substr(line, length(indent) + 1)
    block = (FNR == blockLine ? line : block "\036" line)
    if (isShell(lang)) {
        if (heredoc != "") {
            cmd = cmd "\036" line
            if (line == heredoc) flush()
            next
        }
        if (cmd == "") {
            if (line ~ /^[ \t]*$/ || line ~ /^[ \t]*#/) next
            cmd = line
            cmdLine = FNR
        } else {
            cmd = cmd "\036" line
        }
        if (match(line, /<<-?[ \t]*['"]?[A-Za-z_][A-Za-z0-9_]*['"]?/)) {
            heredoc = substr(line, RSTART, RLENGTH)
            gsub(/[<'" \t-]/, "", heredoc)
            next
        }
        if (line ~ /\\$/) next
        flush()
    } else if (lang == "console") {
        if (cmd != "") {
            # the previous line ended with "\": this one continues the command
            cmd = cmd "\036" line
            if (line !~ /\\$/) flush()
            next
        }
        if (line ~ /^\$ /) {
            cmd = substr(line, 3)
            cmdLine = FNR
            if (line !~ /\\$/) flush()
        }
    } else {
        out("code", FNR, lang, line)
    }
    next
}

{
    out("prose", FNR, "-", line)
    n = split(line, parts, "`")
    for (i = 2; i < n; i += 2) out("inline", FNR, "-", parts[i])
}
