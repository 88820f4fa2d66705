#!/bin/sh
# tests/layout/extract_examples.sh — turns the worked examples of a public header into C that
# the layout.examples test compiles and links (tests/layout/CMakeLists.txt), so that an
# example cannot drift from the API it shows.
#
#   extract_examples.sh ROOT HEADER NAME OUT.c [INCLUDED_HEADER...]
#
# The examples are the code lines of the header's block comments (the opening one and every
# other comment that starts a line with "/*", e.g. a section's): lines indented by four
# spaces or more after " * " that follow a blank comment line or another code line (an
# indented line right after prose continues the prose, as in Markdown). Consecutive code lines (blank comment lines between them
# included) form one example, which becomes the body of `int example_NAME_K(void)` with every
# INCLUDED_HEADER (repo-relative) included, and #line directives so that an error names the
# header's own line. Inside an example:
#   - err (a wb_error) is always given;
#   - "// given: DECLS" declares what the example takes from its surroundings (file-scope
#     statics, so zero-initialised: the examples are linked, never run);
#   - a line starting with "..." stands for code left out: an empty block;
#   - "..." elsewhere in code (outside a // comment), and "... anything ..." from one to the
#     next on the line, is an empty block ("if (rc) ...", "{ ...err names the file... }").
set -eu
root=$1 hdr=$2 name=$3 out=$4
shift 4
{
    echo "/* generated from $hdr by tests/layout/extract_examples.sh: do not edit */"
    for h in stdint.h stddef.h stdio.h stdlib.h string.h math.h; do echo "#include <$h>"; done
    for h in "$@"; do echo "#include \"$h\""; done
    echo "static wb_error err; /* every example may use err */"
    awk -v path="$root/$hdr" -v name="$name" '
    function flush() {
        if (nlines == 0) return
        k++
        fn = "example_" name "_" k
        printf "int %s(void);\nint %s(void)\n{\n", fn, fn
        for (i = 1; i <= nlines; i++) printf "%s\n", body[i]
        printf "    return 0;\n}\n"
        nlines = 0
    }
    !incomment && !/^\/\*/ { next }   # code, or a comment after code on its line
    {
        line = $0
        if (!incomment) { # a block comment starts: its first line is prose
            incomment = 1
            prev = "prose"
            sub(/^\/\*/, " *", line)
        }
        end = index(line, "*/") > 0
        if (end) sub(/\*\/.*/, "", line)
        if (line ~ /^ \*     / && prev != "prose") {
            prev = "code"
            code = substr(line, 8)
            if (code ~ /^[ \t]*\.\.\./) code = "{}"
            if (code ~ /^[ \t]*\/\/ given: /) {
                sub(/^[ \t]*\/\/ given: /, "", code)
                printf "#line %d \"%s\"\n", NR, path
                nd = split(code, decl, ";")
                for (i = 1; i <= nd; i++) if (decl[i] ~ /[^ \t]/) printf "static %s;\n", decl[i]
                if (end) { flush(); incomment = 0 }
                next
            }
            c = index(code, "//")
            pre = c ? substr(code, 1, c - 1) : code
            post = c ? substr(code, c) : ""
            while ((i = index(pre, "...")) > 0) {
                rest = substr(pre, i + 3)
                j = index(rest, "...")
                pre = substr(pre, 1, i - 1) "{}" (j ? substr(rest, j + 3) : rest)
            }
            body[++nlines] = sprintf("#line %d \"%s\"\n    %s%s", NR, path, pre, post)
        } else if (line ~ /^ \*[ \t]*$/) {
            # a blank comment line: part of the example if more code follows
            prev = "blank"
        } else {
            prev = "prose"
            flush()
        }
        if (end) { flush(); incomment = 0 }
    }
    END { flush() }
    ' "$root/$hdr"
} > "$out.tmp"
mv "$out.tmp" "$out"
