/*  xoc_api_cm — Xen Orchestra's complex-matcher filter syntax (the UI search bar; the string
    `filter` of xo.getAllObjects, xo-api.md §1.5, and the REST `filter=` parameter), parsed
    once into a small tree and matched against objects stored as msgpack maps (the replica's
    representation: no JSON per object).

        xoc_api_cm_t *cm = xoc_api_cm_parse(text, len, err, sizeof err);
        if (!cm) -> invalid parameters, err says what and where
        for each object: if (xoc_api_cm_match_mp(cm, &map)) ...
        xoc_api_cm_destroy(&cm);

    The syntax (as complex-matcher has it):
        a b            both (AND; terms are separated by whitespace)
        |(a b)         either (OR)            !a        not a
        (a b)          grouping (AND)         ""        (empty filter) matches everything
        prop:term      term matched against the property's value; nested: boot:order:cn
        "a b"          quoted string (\ escapes the next character); also as a property name
        foo            case-insensitive substring of any string anywhere in the value
                       (arrays and objects are searched recursively, keys are not)
        32             a number or a string: equals the number 32, or contains "32"
        chi*go         glob: `*` = any run of characters within one line, case-insensitive,
                       unanchored (there is no `?` wildcard)
        /re/  /re/i    regular expression (searched, not anchored; `i`: ignore case)
        >n >=n <n <=n  numeric comparison with the value (JavaScript conversions: strings are
                       converted, null is 0, booleans 0/1, missing values never match)
        prop?          the property is truthy (not missing, null, false, 0, NaN or "")
    Raw (unquoted) strings are made of letters, digits and `_ - . $`. A property of an array
    or a string may be an index or `length` (counted in UTF-16 units for strings).

    Differences from complex-matcher (documented, not accidental):
    - Case folding is ASCII-only; every non-ASCII character counts as a letter in raw
      strings (complex-matcher accepts only letters that have a case there).
    - Regular expressions are POSIX extended (regcomp), translated from the JavaScript
      syntax for the common escapes (\d \D \s \S \w \W \b \B \/ \t \n \r \f \v \xHH \uHHHH,
      (?:...), a lone `{` is literal); lookarounds, back-references and `[]`/`[^]` are
      refused with an error; `.` also matches a newline; matching is on UTF-8 bytes.
    - `[resolve]:` (resolution of ids through a store) is refused with an error.
    - Positions in error messages are byte offsets.

    Bounds: XOC_API_CM_MAX_LEN bytes of text, XOC_API_CM_MAX_DEPTH levels of nesting,
    XOC_API_CM_MAX_NODES nodes, XOC_API_CM_MAX_REGEX regular expressions of at most
    XOC_API_CM_MAX_REGEX_LEN bytes each (with bounded repetition counts).                 */
#ifndef XOC_API_CM_H
#define XOC_API_CM_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#define XOC_API_CM_MAX_LEN 8192
#define XOC_API_CM_MAX_DEPTH 32
#define XOC_API_CM_MAX_NODES 128
#define XOC_API_CM_MAX_REGEX 16
#define XOC_API_CM_MAX_REGEX_LEN 512

typedef struct xoc_api_cm xoc_api_cm_t;

/*  Parses len bytes of text. Returns the matcher, or NULL with a message in err (always
    NUL-terminated when errlen > 0), e.g. "unexpected ')' at position 4".                */
xoc_api_cm_t *xoc_api_cm_parse(const char *text, size_t len, char *err, size_t errlen);

/*  Does the object (normally a msgpack map) match?                                        */
bool xoc_api_cm_match_mp(const xoc_api_cm_t *cm, const msgpack_object *obj);

/*  True for the empty filter (it matches everything).                                    */
bool xoc_api_cm_is_empty(const xoc_api_cm_t *cm);

/*  The filter written back in canonical form (as complex-matcher's toString does), like
    snprintf: returns the full length, writes at most size bytes with the NUL.            */
size_t xoc_api_cm_to_string(const xoc_api_cm_t *cm, char *buf, size_t size);

/*  Frees and nulls the pointer; NULL-safe.                                                 */
void xoc_api_cm_destroy(xoc_api_cm_t **self_p);

#endif
