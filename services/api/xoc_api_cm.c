/*  xoc_api_cm — complex-matcher filters: a recursive-descent parser into a node tree, a
    matcher over msgpack values, and a writer back to text. See xoc_api_cm.h.             */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* REG_STARTEND */
#endif
#include "xoc_api_cm.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    CM_NULL, /* empty filter */
    CM_AND,
    CM_OR,
    CM_NOT,
    CM_PROP,   /* str = name, kids[0] = term */
    CM_TRUTHY, /* str = name */
    CM_STRING, /* str = value, lc = lowercase */
    CM_NUMSTR, /* str = raw text, lc, num */
    CM_GLOB,   /* str = raw text, lc */
    CM_REGEX,  /* str = pattern as written, re */
    CM_CMP,    /* op, num */
} s_kind_t;

typedef enum { CMP_GT, CMP_GE, CMP_LT, CMP_LE } s_op_t;

typedef struct s_node {
    s_kind_t kind;
    char *str, *lc;
    size_t len;
    double num;
    s_op_t op;
    bool icase, re_ok;
    regex_t re;
    struct s_node **kids;
    size_t n;
} s_node_t;

struct xoc_api_cm {
    s_node_t *root;
};

/* ---- characters ------------------------------------------------------------------------------ */

static unsigned char s_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* decodes one UTF-8 character at s (n > 0 bytes left): its length, 0 if invalid */
static size_t s_utf8(const char *s, size_t n, unsigned *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = u[0] < 0x80                   ? 1
                 : u[0] >= 0xc2 && u[0] < 0xe0 ? 2
                 : u[0] >= 0xe0 && u[0] < 0xf0 ? 3
                 : u[0] >= 0xf0 && u[0] < 0xf5 ? 4
                                               : 0;
    if (len == 0 || len > n)
        return 0;
    unsigned c = len == 1 ? u[0] : u[0] & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (u[i] & 0x3f);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c < 0xe000))) || (len == 4 && c < 0x10000) ||
        c > 0x10ffff)
        return 0;
    *cp = c;
    return len;
}

/* JavaScript's \s */
static bool s_is_space(unsigned c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000 || c == 0xfeff;
}

/* length of the raw-string character at s (0: none) */
static size_t s_raw_char(const char *s, size_t n)
{
    unsigned c;
    size_t len = s_utf8(s, n, &c);
    if (len == 0)
        return 0;
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c == '_' || c == '-' || c == '.' || c == '$'
                   ? 1
                   : 0;
    return s_is_space(c) ? 0 : len;
}

/* JavaScript's Number(string) on a trimmed text: NaN when not a number */
static double s_js_number(const char *s, size_t n)
{
    unsigned c;
    size_t l;
    while (n && (l = s_utf8(s, n, &c)) && s_is_space(c))
        s += l, n -= l;
    while (n) { /* trailing whitespace: find the last character */
        size_t i = n - 1;
        while (i && ((unsigned char)s[i] & 0xc0) == 0x80)
            i--;
        if (!(l = s_utf8(s + i, n - i, &c)) || !s_is_space(c))
            break;
        n = i;
    }
    if (n == 0)
        return 0;
    if (n > 2 && s[0] == '0' && s[1] && strchr("xXoObB", s[1])) {
        int base = s[1] == 'x' || s[1] == 'X' ? 16 : s[1] == 'o' || s[1] == 'O' ? 8 : 2;
        double v = 0;
        for (size_t i = 2; i < n; i++) {
            int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0'
                    : s_lower((unsigned char)s[i]) >= 'a' && s_lower((unsigned char)s[i]) <= 'f'
                        ? s_lower((unsigned char)s[i]) - 'a' + 10
                        : 99;
            if (d >= base)
                return NAN;
            v = v * base + d;
        }
        return v;
    }
    size_t i = 0;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-')
        neg = s[i++] == '-';
    if (n - i == 8 && memcmp(s + i, "Infinity", 8) == 0)
        return neg ? -INFINITY : INFINITY;
    size_t digits = 0, start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return NAN;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, e++;
        if (e == 0)
            return NAN;
    }
    if (i != n)
        return NAN;
    char *copy = strndup(s + start, n - start);
    if (!copy)
        return NAN;
    double v = strtod(copy, NULL);
    free(copy);
    return neg ? -v : v;
}

/* ---- nodes ----------------------------------------------------------------------------------- */

static void s_node_free(s_node_t *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++)
        s_node_free(node->kids[i]);
    free(node->kids);
    if (node->re_ok)
        regfree(&node->re);
    free(node->str);
    free(node->lc);
    free(node);
}

typedef struct {
    const char *s;
    size_t len, pos;
    int depth;
    size_t nodes, regexes;
    char *err;
    size_t errlen;
    bool failed;
} s_parser_t;

static void s_fail(s_parser_t *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    if (!p->errlen)
        return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s at position %zu", what, pos);
}

static s_node_t *s_node_new(s_parser_t *p, s_kind_t kind)
{
    if (++p->nodes > XOC_API_CM_MAX_NODES) {
        s_fail(p, p->pos, "too many terms (at most %d)", XOC_API_CM_MAX_NODES);
        return NULL;
    }
    s_node_t *node = calloc(1, sizeof *node);
    if (!node)
        s_fail(p, p->pos, "out of memory");
    else
        node->kind = kind;
    return node;
}

/* sets node->str (and ->lc, lowercase, when lc) to a copy of s[0..n) */
static bool s_node_text(s_parser_t *p, s_node_t *node, const char *s, size_t n, bool lc)
{
    node->str = malloc(n + 1);
    node->lc = lc ? malloc(n + 1) : NULL;
    if (!node->str || (lc && !node->lc)) {
        s_fail(p, p->pos, "out of memory");
        return false;
    }
    memcpy(node->str, s, n);
    node->str[n] = '\0';
    node->len = n;
    for (size_t i = 0; lc && i <= n; i++)
        node->lc[i] = (char)s_lower((unsigned char)node->str[i]);
    return true;
}

static bool s_node_add(s_parser_t *p, s_node_t *node, s_node_t *kid)
{
    s_node_t **kids = realloc(node->kids, (node->n + 1) * sizeof *kids);
    if (!kids) {
        s_fail(p, p->pos, "out of memory");
        s_node_free(kid);
        return false;
    }
    node->kids = kids;
    node->kids[node->n++] = kid;
    return true;
}

/* ---- regular expressions: JavaScript syntax -> POSIX extended -------------------------------- */

typedef struct {
    char *b;
    size_t n, cap;
} s_out_t;

static void s_put(s_out_t *o, const char *s, size_t n)
{
    if (o->n + n < o->cap) {
        memcpy(o->b + o->n, s, n);
        o->n += n;
    } else
        o->n = o->cap; /* overflow: reported by the caller */
}

static int s_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : s_lower((unsigned char)c) >= 'a' && s_lower((unsigned char)c) <= 'f'
               ? s_lower((unsigned char)c) - 'a' + 10
               : -1;
}

/* a code point as UTF-8, escaped when it is special outside a bracket */
static void s_put_cp(s_out_t *o, unsigned c, bool in_bracket)
{
    char u[4];
    if (c < 0x80) {
        if (in_bracket && strchr("]-^[\\", (int)c) && c) {
            char t[5] = {'[', '.', (char)c, '.', ']'};
            s_put(o, t, 5);
            return;
        }
        if (!in_bracket && c && strchr(".[]()*+?{}|^$\\", (int)c))
            s_put(o, "\\", 1);
        u[0] = (char)c;
        s_put(o, u, 1);
    } else if (c < 0x800) {
        u[0] = (char)(0xc0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3f));
        s_put(o, u, 2);
    } else {
        u[0] = (char)(0xe0 | c >> 12), u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        u[2] = (char)(0x80 | (c & 0x3f));
        s_put(o, u, 3);
    }
}

/* translates one escape at pat[*i] (the character after '\'); returns an error or NULL */
static const char *s_re_escape(const char *pat, size_t n, size_t *i, s_out_t *o, bool in_bracket)
{
    char c = pat[*i];
    (*i)++;
    static const char *const cls[][2] = {{"d", "[0-9]"},        {"D", "[^0-9]"},
                                         {"s", "[[:space:]]"},  {"S", "[^[:space:]]"},
                                         {"w", "[[:alnum:]_]"}, {"W", "[^[:alnum:]_]"}};
    static const char *const cls_in[][2] = {{"d", "0-9"}, {"s", "[:space:]"}, {"w", "[:alnum:]_"}};
    if (in_bracket) {
        for (size_t k = 0; k < sizeof cls_in / sizeof cls_in[0]; k++)
            if (c == cls_in[k][0][0]) {
                s_put(o, cls_in[k][1], strlen(cls_in[k][1]));
                return NULL;
            }
        if (c == 'D' || c == 'S' || c == 'W')
            return "negated class escape inside [...] is not supported";
        if (c == 'b') {
            s_put_cp(o, '\b', true);
            return NULL;
        }
    } else {
        for (size_t k = 0; k < sizeof cls / sizeof cls[0]; k++)
            if (c == cls[k][0][0]) {
                s_put(o, cls[k][1], strlen(cls[k][1]));
                return NULL;
            }
        if (c == 'b' || c == 'B') {
            char t[2] = {'\\', c};
            s_put(o, t, 2);
            return NULL;
        }
    }
    unsigned cp;
    switch (c) {
    case 't':
        cp = '\t';
        break;
    case 'n':
        cp = '\n';
        break;
    case 'r':
        cp = '\r';
        break;
    case 'f':
        cp = '\f';
        break;
    case 'v':
        cp = '\v';
        break;
    case '0':
        return "\\0 is not supported";
    case 'x':
    case 'u': {
        size_t digits = c == 'x' ? 2 : 4;
        cp = 0;
        if (*i + digits > n)
            return "truncated \\x or \\u escape";
        for (size_t k = 0; k < digits; k++) {
            int h = s_hex(pat[*i + k]);
            if (h < 0)
                return "invalid \\x or \\u escape";
            cp = cp << 4 | (unsigned)h;
        }
        *i += digits;
        if (cp == 0 || (cp >= 0xd800 && cp < 0xe000))
            return "\\x or \\u escape of NUL or a surrogate is not supported";
        if (in_bracket && cp >= 0x80)
            return "non-ASCII escape inside [...] is not supported";
        break;
    }
    case 'c':
        if (*i < n && ((pat[*i] | 0x20) >= 'a' && (pat[*i] | 0x20) <= 'z')) {
            cp = (unsigned)(pat[(*i)++] & 0x1f);
            break;
        }
        cp = '\\';
        (*i)--; /* "\c" not followed by a letter: a backslash, then 'c' */
        break;
    default:
        if (c >= '1' && c <= '9')
            return "back-references are not supported";
        if ((unsigned char)c >= 0x80) { /* identity escape of a non-ASCII character */
            (*i)--;
            return NULL;
        }
        cp = (unsigned char)c;
    }
    s_put_cp(o, cp, in_bracket);
    return NULL;
}

/* a {n}, {n,} or {n,m} quantifier at pat[i] ('{'): its length and largest count, 0 if none */
static size_t s_re_interval(const char *pat, size_t n, size_t i, unsigned long *max)
{
    size_t j = i + 1;
    unsigned long a = 0, b = 0;
    bool digits = false, comma = false, digits_b = false;
    for (; j < n && pat[j] >= '0' && pat[j] <= '9'; j++, digits = true)
        a = a > 100000 ? a : a * 10 + (unsigned long)(pat[j] - '0');
    if (j < n && pat[j] == ',')
        for (comma = true, j++; j < n && pat[j] >= '0' && pat[j] <= '9'; j++, digits_b = true)
            b = b > 100000 ? b : b * 10 + (unsigned long)(pat[j] - '0');
    if (!digits || j >= n || pat[j] != '}')
        return 0;
    *max = comma && digits_b ? (a > b ? a : b) : a;
    (void)comma;
    return j + 1 - i;
}

/* JavaScript pattern -> POSIX ERE in o; returns an error message or NULL */
static const char *s_re_translate(const char *pat, size_t n, s_out_t *o)
{
    unsigned long product = 1;
    size_t groups = 0;
    /* what precedes: NOTHING (start, '(', '|', an assertion) cannot be repeated, ATOM can,
       QUANT is a quantifier (one '?' may follow: lazy, same result for a search), LAZY */
    enum { NOTHING, ATOM, QUANT, LAZY } prev = NOTHING;
    if (memchr(pat, '\0', n))
        return "NUL is not supported";
    for (size_t i = 0; i < n && o->n < o->cap;) {
        char c = pat[i];
        unsigned long max = 0;
        size_t l = c == '*' || c == '+' || c == '?' ? 1
                   : c == '{'                       ? s_re_interval(pat, n, i, &max)
                                                    : 0;
        if (l) {
            if (c == '?' && prev == QUANT) {
                prev = LAZY;
                i++;
                continue;
            }
            if (prev != ATOM)
                return "nothing to repeat";
            product *= max ? max : 1;
            if (max > 255 || product > 4096)
                return "repetition counts too large";
            s_put(o, pat + i, l);
            i += l;
            prev = QUANT;
            continue;
        }
        prev = ATOM;
        if (c == '(')
            groups++, prev = NOTHING;
        if (c == '|' || c == '^' || c == '$')
            prev = NOTHING;
        if (c == ')' && groups-- == 0)
            return "unmatched ')'"; /* POSIX takes it as a literal, JavaScript refuses it */
        if (c == '\\') {
            if (++i == n)
                return "pattern ends with '\\'";
            if (pat[i] == 'b' || pat[i] == 'B')
                prev = NOTHING;
            const char *e = s_re_escape(pat, n, &i, o, false);
            if (e)
                return e;
            continue;
        }
        if (c == '(' && i + 1 < n && pat[i + 1] == '?') {
            if (i + 2 < n && pat[i + 2] == ':') {
                s_put(o, "(", 1);
                i += 3;
                continue;
            }
            return "lookarounds and named groups are not supported";
        }
        if (c == '{') { /* not a valid interval: a literal in JavaScript */
            s_put(o, "\\{", 2);
            i++;
            continue;
        }
        if (c == '}') {
            s_put(o, "\\}", 2);
            i++;
            continue;
        }
        if (c == '[') {
            i++;
            s_put(o, "[", 1);
            if (i < n && pat[i] == '^')
                s_put(o, "^", 1), i++;
            if (i < n && pat[i] == ']')
                return "empty classes [] and [^] are not supported";
            size_t first = o->n;
            for (;;) {
                if (i >= n)
                    return "missing ']'";
                c = pat[i];
                if (c == ']')
                    break;
                if (c == '\\') {
                    if (++i == n)
                        return "pattern ends with '\\'";
                    const char *e = s_re_escape(pat, n, &i, o, true);
                    if (e)
                        return e;
                    continue;
                }
                if (c == '[' || (c == '^' && o->n == first)) {
                    s_put_cp(o, (unsigned char)c, true);
                    i++;
                    continue;
                }
                s_put(o, &c, 1);
                i++;
            }
            s_put(o, "]", 1);
            i++;
            continue;
        }
        s_put(o, &c, 1);
        i++;
    }
    return o->n >= o->cap ? "pattern too long" : NULL;
}

/* ---- the parser ------------------------------------------------------------------------------ */

static void s_ws(s_parser_t *p)
{
    unsigned c;
    size_t l;
    while (p->pos < p->len && (l = s_utf8(p->s + p->pos, p->len - p->pos, &c)) && s_is_space(c))
        p->pos += l;
}

/* raw-string characters from pos (and '*' when glob): the end */
static size_t s_raw_end(const s_parser_t *p, size_t pos, bool glob)
{
    size_t l;
    while (pos < p->len) {
        if (glob && p->s[pos] == '*')
            l = 1;
        else if (!(l = s_raw_char(p->s + pos, p->len - pos)))
            break;
        pos += l;
    }
    return pos;
}

/* a quoted string at pos ('"'): the unescaped value (malloc'd) and its length; an
   unterminated string runs to the end, as in complex-matcher (unless it ends with '\') */
static char *s_quoted(s_parser_t *p, size_t *n)
{
    char *v = malloc(p->len - p->pos + 1);
    if (!v) {
        s_fail(p, p->pos, "out of memory");
        return NULL;
    }
    size_t k = 0;
    p->pos++;
    while (p->pos < p->len) {
        char c = p->s[p->pos++];
        if (c == '"')
            break;
        if (c == '\\') {
            if (p->pos == p->len) { /* complex-matcher fails there too */
                s_fail(p, p->pos - 1, "unterminated quoted string ending with '\\'");
                free(v);
                return NULL;
            }
            c = p->s[p->pos++];
        }
        v[k++] = c;
    }
    v[k] = '\0';
    *n = k;
    return v;
}

static s_node_t *s_term(s_parser_t *p);

/* terms until the end or ')' (consumed when closing) into node (AND or OR) */
static s_node_t *s_terms(s_parser_t *p, s_node_t *node, bool closing, size_t open)
{
    for (;;) {
        s_ws(p);
        if (p->pos == p->len) {
            if (closing) {
                s_fail(p, open, "missing ')' for the '('");
                break;
            }
            return node;
        }
        if (closing && p->s[p->pos] == ')') {
            if (node->n == 0) {
                s_fail(p, p->pos, "empty group");
                break;
            }
            p->pos++;
            return node;
        }
        s_node_t *kid = s_term(p);
        if (!kid || !s_node_add(p, node, kid))
            break;
    }
    s_node_free(node);
    return NULL;
}

/* an AND or OR of one term is that term */
static s_node_t *s_collapse(s_node_t *node)
{
    if (!node || node->n != 1)
        return node;
    s_node_t *kid = node->kids[0];
    node->n = 0;
    s_node_free(node);
    return kid;
}

static s_node_t *s_regex(s_parser_t *p)
{
    size_t start = p->pos++;
    bool escaped = false, closed = false;
    size_t i = p->pos;
    for (; i < p->len; i++) {
        char c = p->s[i];
        if (c == '/' && !escaped) {
            closed = true;
            break;
        }
        escaped = c == '\\';
    }
    size_t n = i - p->pos, end = i + 1;
    if (!closed && i > p->pos && p->s[i - 1] == '/') {
        /* complex-matcher's quirk: a text ending with an escaped '/' ends the expression,
           the escaped '/' included */
        closed = true;
        end = i;
    }
    if (!closed) {
        s_fail(p, start, "unterminated regular expression");
        return NULL;
    }
    if (n > XOC_API_CM_MAX_REGEX_LEN) {
        s_fail(p, start, "regular expression too long (at most %d bytes)",
               XOC_API_CM_MAX_REGEX_LEN);
        return NULL;
    }
    if (++p->regexes > XOC_API_CM_MAX_REGEX) {
        s_fail(p, start, "too many regular expressions (at most %d)", XOC_API_CM_MAX_REGEX);
        return NULL;
    }
    s_node_t *node = s_node_new(p, CM_REGEX);
    if (!node || !s_node_text(p, node, p->s + p->pos, n, false)) {
        s_node_free(node);
        return NULL;
    }
    p->pos = end;
    if (p->pos < p->len && p->s[p->pos] == 'i')
        node->icase = true, p->pos++;
    char buf[XOC_API_CM_MAX_REGEX_LEN * 8 + 16];
    s_out_t o = {buf, 0, sizeof buf - 1};
    const char *e = s_re_translate(node->str, n, &o);
    if (e) {
        s_fail(p, start, "invalid regular expression: %s", e);
        s_node_free(node);
        return NULL;
    }
    buf[o.n] = '\0';
    int rc = regcomp(&node->re, buf, REG_EXTENDED | REG_NOSUB | (node->icase ? REG_ICASE : 0));
    if (rc != 0) {
        char msg[128];
        regerror(rc, &node->re, msg, sizeof msg);
        s_fail(p, start, "invalid regular expression: %s", msg);
        s_node_free(node);
        return NULL;
    }
    node->re_ok = true;
    return node;
}

static s_node_t *s_comparison(s_parser_t *p)
{
    size_t start = p->pos;
    s_node_t *node = s_node_new(p, CM_CMP);
    if (!node)
        return NULL;
    bool gt = p->s[p->pos++] == '>', eq = p->pos < p->len && p->s[p->pos] == '=';
    p->pos += eq;
    node->op = gt ? (eq ? CMP_GE : CMP_GT) : (eq ? CMP_LE : CMP_LT);
    size_t end = s_raw_end(p, p->pos, false);
    node->num = end > p->pos ? s_js_number(p->s + p->pos, end - p->pos) : NAN;
    if (isnan(node->num)) {
        s_fail(p, start, "a comparison needs a number");
        s_node_free(node);
        return NULL;
    }
    p->pos = end;
    return node;
}

/* after a property name: ':' term, '?', or (returns NULL without failing) neither */
static s_node_t *s_property(s_parser_t *p, const char *name, size_t n, bool *is_prop)
{
    size_t after = p->pos;
    s_ws(p);
    *is_prop = true;
    if (p->pos < p->len && p->s[p->pos] == ':') {
        p->pos++;
        s_ws(p);
        if (p->pos == p->len) {
            s_fail(p, p->pos, "expected a term after ':'");
            return NULL;
        }
        s_node_t *node = s_node_new(p, CM_PROP);
        if (!node || !s_node_text(p, node, name, n, false)) {
            s_node_free(node);
            return NULL;
        }
        s_node_t *kid = s_term(p);
        if (!kid || !s_node_add(p, node, kid)) {
            s_node_free(node);
            return NULL;
        }
        return node;
    }
    p->pos = after;
    if (p->pos < p->len && p->s[p->pos] == '?') {
        p->pos++;
        s_node_t *node = s_node_new(p, CM_TRUTHY);
        if (node && !s_node_text(p, node, name, n, false)) {
            s_node_free(node);
            return NULL;
        }
        return node;
    }
    *is_prop = false;
    return NULL;
}

static s_node_t *s_value(s_parser_t *p, s_kind_t kind, const char *s, size_t n)
{
    s_node_t *node = s_node_new(p, kind);
    if (!node || !s_node_text(p, node, s, n, true)) {
        s_node_free(node);
        return NULL;
    }
    if (kind == CM_NUMSTR)
        node->num = s_js_number(s, n);
    return node;
}

static s_node_t *s_term_in(s_parser_t *p)
{
    size_t start = p->pos;
    char c = p->s[p->pos];
    bool is_prop;
    if (c == '(' || c == '|') {
        if (c == '|') {
            p->pos++;
            s_ws(p);
            if (p->pos == p->len || p->s[p->pos] != '(') {
                s_fail(p, p->pos, "expected '(' after '|'");
                return NULL;
            }
        }
        size_t open = p->pos++;
        s_node_t *node = s_node_new(p, c == '(' ? CM_AND : CM_OR);
        return node ? s_collapse(s_terms(p, node, true, open)) : NULL;
    }
    if (c == '!') {
        p->pos++;
        s_ws(p);
        if (p->pos == p->len) {
            s_fail(p, p->pos, "expected a term after '!'");
            return NULL;
        }
        s_node_t *node = s_node_new(p, CM_NOT), *kid = node ? s_term(p) : NULL;
        if (!kid || !s_node_add(p, node, kid)) {
            s_node_free(node);
            return NULL;
        }
        return node;
    }
    if (c == '<' || c == '>')
        return s_comparison(p);
    if (c == '/')
        return s_regex(p);
    if (c == '[') {
        s_fail(p, start, "%s",
               p->len - start >= 8 && memcmp(p->s + start, "[resolve", 8) == 0
                   ? "[resolve] is not supported"
                   : "unexpected '['");
        return NULL;
    }
    if (c == '"') {
        size_t n;
        char *v = s_quoted(p, &n);
        if (!v)
            return NULL;
        s_node_t *node = s_property(p, v, n, &is_prop);
        if (!is_prop)
            node = s_value(p, CM_STRING, v, n);
        free(v);
        return node;
    }
    size_t raw = s_raw_end(p, start, false);
    if (raw > start) {
        p->pos = raw;
        s_node_t *node = s_property(p, p->s + start, raw - start, &is_prop);
        if (is_prop)
            return node;
    }
    size_t end = s_raw_end(p, start, true);
    if (end == start) {
        unsigned cp;
        if (s_utf8(p->s + start, p->len - start, &cp) && cp >= 0x20 && cp < 0x7f)
            s_fail(p, start, "unexpected '%c'", (char)cp);
        else
            s_fail(p, start, "unexpected character 0x%02x", (unsigned char)c);
        return NULL;
    }
    p->pos = end;
    const char *s = p->s + start;
    size_t n = end - start;
    if (!isnan(s_js_number(s, n)))
        return s_value(p, CM_NUMSTR, s, n);
    return s_value(p, memchr(s, '*', n) ? CM_GLOB : CM_STRING, s, n);
}

static s_node_t *s_term(s_parser_t *p)
{
    if (++p->depth > XOC_API_CM_MAX_DEPTH) {
        s_fail(p, p->pos, "nested too deeply (at most %d levels)", XOC_API_CM_MAX_DEPTH);
        return NULL;
    }
    s_node_t *node = s_term_in(p);
    p->depth--;
    return node;
}

xoc_api_cm_t *xoc_api_cm_parse(const char *text, size_t len, char *err, size_t errlen)
{
    s_parser_t p = {.s = text, .len = len, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    if (len > XOC_API_CM_MAX_LEN) {
        s_fail(&p, XOC_API_CM_MAX_LEN, "filter too long (at most %d bytes)", XOC_API_CM_MAX_LEN);
        return NULL;
    }
    if (!text && len) {
        s_fail(&p, 0, "no text");
        return NULL;
    }
    s_node_t *root = s_node_new(&p, CM_AND);
    root = root ? s_terms(&p, root, false, 0) : NULL;
    if (root && root->n == 0)
        root->kind = CM_NULL;
    root = s_collapse(root);
    xoc_api_cm_t *cm = root ? calloc(1, sizeof *cm) : NULL;
    if (!cm) {
        s_fail(&p, 0, "out of memory");
        s_node_free(root);
        return NULL;
    }
    cm->root = root;
    return cm;
}

void xoc_api_cm_destroy(xoc_api_cm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_node_free((*self_p)->root);
    free(*self_p);
    *self_p = NULL;
}

bool xoc_api_cm_is_empty(const xoc_api_cm_t *cm)
{
    return cm->root->kind == CM_NULL;
}

/* ---- matching -------------------------------------------------------------------------------- */

#define S_MAX_VALUE_DEPTH 64

static bool s_is_number(const msgpack_object *v)
{
    return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
           v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || v->type == MSGPACK_OBJECT_FLOAT32 ||
           v->type == MSGPACK_OBJECT_FLOAT64;
}

static double s_number(const msgpack_object *v)
{
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return (double)v->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return (double)v->via.i64;
    default:
        return v->via.f64;
    }
}

/* JavaScript's Number(v) (v NULL: undefined) */
static double s_to_number(const msgpack_object *v, int depth)
{
    if (!v)
        return NAN;
    if (s_is_number(v))
        return s_number(v);
    switch (v->type) {
    case MSGPACK_OBJECT_NIL:
        return 0;
    case MSGPACK_OBJECT_BOOLEAN:
        return v->via.boolean ? 1 : 0;
    case MSGPACK_OBJECT_STR:
        return s_js_number(v->via.str.ptr, v->via.str.size);
    case MSGPACK_OBJECT_ARRAY: /* via its string: "" -> 0, one element -> that, else NaN */
        if (v->via.array.size == 0)
            return 0;
        if (v->via.array.size > 1 || depth > S_MAX_VALUE_DEPTH)
            return NAN;
        v = &v->via.array.ptr[0];
        if (v->type == MSGPACK_OBJECT_NIL)
            return 0;
        return v->type == MSGPACK_OBJECT_BOOLEAN ? NAN : s_to_number(v, depth + 1);
    default:
        return NAN;
    }
}

static bool s_truthy(const msgpack_object *v)
{
    if (!v)
        return false;
    switch (v->type) {
    case MSGPACK_OBJECT_NIL:
        return false;
    case MSGPACK_OBJECT_BOOLEAN:
        return v->via.boolean;
    case MSGPACK_OBJECT_STR:
        return v->via.str.size > 0;
    default: {
        if (!s_is_number(v))
            return true;
        double d = s_number(v);
        return d != 0 && !isnan(d);
    }
    }
}

static bool s_index(const char *name, size_t n, uint32_t size, uint32_t *index)
{
    if (n == 0 || n > 10 || (n > 1 && name[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *index = (uint32_t)v;
    return v < size;
}

/* value[name] (NULL: undefined); tmp holds computed values (length) */
static const msgpack_object *s_get(const msgpack_object *v, const char *name, size_t n,
                                   msgpack_object *tmp)
{
    if (v->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < v->via.map.size; i++) {
            const msgpack_object *k = &v->via.map.ptr[i].key;
            if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
                (n == 0 || memcmp(k->via.str.ptr, name, n) == 0))
                return &v->via.map.ptr[i].val;
        }
        return NULL;
    }
    bool length = n == 6 && memcmp(name, "length", 6) == 0;
    if (v->type == MSGPACK_OBJECT_ARRAY) {
        uint32_t index;
        if (s_index(name, n, v->via.array.size, &index))
            return &v->via.array.ptr[index];
        if (!length)
            return NULL;
        tmp->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        tmp->via.u64 = v->via.array.size;
        return tmp;
    }
    if (v->type != MSGPACK_OBJECT_STR)
        return NULL;
    /* strings: `length` and indexes count UTF-16 code units, as in JavaScript (an index
       inside a character outside the BMP gives the whole character) */
    uint32_t index = 0;
    if (!length && !s_index(name, n, UINT32_MAX, &index))
        return NULL;
    uint64_t units = 0;
    const unsigned char *s = (const unsigned char *)v->via.str.ptr;
    for (uint32_t i = 0; i < v->via.str.size; i++) {
        if ((s[i] & 0xc0) == 0x80)
            continue;
        uint64_t w = s[i] >= 0xf0 ? 2 : 1;
        if (!length && index < units + w) {
            uint32_t end = i + 1;
            while (end < v->via.str.size && (s[end] & 0xc0) == 0x80)
                end++;
            tmp->type = MSGPACK_OBJECT_STR;
            tmp->via.str.ptr = (const char *)s + i;
            tmp->via.str.size = end - i;
            return tmp;
        }
        units += w;
    }
    if (!length)
        return NULL;
    tmp->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    tmp->via.u64 = units;
    return tmp;
}

/* does s[0..n) equal lc (lowercase) ignoring ASCII case? */
static bool s_equal_ci(const char *s, const char *lc, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (s_lower((unsigned char)s[k]) != (unsigned char)lc[k])
            return false;
    return true;
}

/* case-insensitive (ASCII) search of lc (lowercase, n bytes) in s[0..len): memchr finds
   the candidates for the first byte (both cases) */
static bool s_contains(const char *s, size_t len, const char *lc, size_t n)
{
    if (n == 0)
        return true;
    if (n > len)
        return false;
    unsigned char a = (unsigned char)lc[0];
    unsigned char b = a >= 'a' && a <= 'z' ? (unsigned char)(a - 32) : a;
    size_t starts = len - n + 1; /* positions where a match may start */
    const char *pa = memchr(s, a, starts), *pb = b != a ? memchr(s, b, starts) : NULL;
    while (pa || pb) {
        const char *at = !pb || (pa && pa < pb) ? pa : pb;
        size_t i = (size_t)(at - s);
        if (s_equal_ci(at + 1, lc + 1, n - 1))
            return true;
        const char *next = i + 1 < starts ? memchr(at + 1, at == pa ? a : b, starts - i - 1) : NULL;
        if (at == pa)
            pa = next;
        else
            pb = next;
    }
    return false;
}

/* first position after lc found in s[0..len), or SIZE_MAX */
static size_t s_find(const char *s, size_t len, const char *lc, size_t n)
{
    for (size_t i = 0; i + n <= len; i++) {
        size_t k = 0;
        while (k < n && s_lower((unsigned char)s[i + k]) == (unsigned char)lc[k])
            k++;
        if (k == n)
            return i + n;
    }
    return SIZE_MAX;
}

/* the glob's pieces in order, within one line (JavaScript's `.` stops at line ends) */
static bool s_glob_line(const char *s, size_t len, const char *lc, size_t n)
{
    size_t at = 0;
    for (size_t i = 0; i < n;) {
        if (lc[i] == '*') {
            i++;
            continue;
        }
        const char *star = memchr(lc + i, '*', n - i);
        size_t piece = star ? (size_t)(star - (lc + i)) : n - i;
        size_t found = s_find(s + at, len - at, lc + i, piece);
        if (found == SIZE_MAX)
            return false;
        at += found;
        i += piece;
    }
    return true;
}

static bool s_glob(const char *s, size_t len, const char *lc, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        size_t eol = 0;
        if (i == len)
            eol = 1;
        else if (s[i] == '\n' || s[i] == '\r')
            eol = 1;
        else if (i + 2 < len && (unsigned char)s[i] == 0xe2 && (unsigned char)s[i + 1] == 0x80 &&
                 ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))
            eol = 3;
        if (!eol)
            continue;
        if (s_glob_line(s + start, i - start, lc, n))
            return true;
        start = i + eol;
        i += eol - 1;
    }
    return false;
}

/* a value node (string, number-or-string, glob, regex) against a string */
static bool s_value_str(const s_node_t *node, const char *s, size_t len)
{
    if (len == 0)
        s = ""; /* msgpack may give NULL for an empty string */
    switch (node->kind) {
    case CM_GLOB:
        return s_glob(s, len, node->lc, node->len);
    case CM_REGEX: {
        /* regexec gets a NUL-terminated copy: glibc honours REG_STARTEND (which keeps
           embedded NULs), but sanitizers' interceptors read up to a NUL */
        char small[512], *copy = len < sizeof small ? small : malloc(len + 1);
        if (!copy)
            return false;
        memcpy(copy, s, len);
        copy[len] = '\0';
        regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)len}};
        bool ok = regexec(&node->re, copy, 1, m, REG_STARTEND) == 0;
        if (copy != small)
            free(copy);
        return ok;
    }
    default:
        return s_contains(s, len, node->lc, node->len);
    }
}

/* a value node against any value: strings directly, arrays and maps recursively */
static bool s_value_match(const s_node_t *node, const msgpack_object *v, int depth)
{
    if (!v)
        return false;
    if (node->kind == CM_NUMSTR && s_is_number(v))
        return s_number(v) == node->num;
    switch (v->type) {
    case MSGPACK_OBJECT_STR:
        return s_value_str(node, v->via.str.ptr, v->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        if (depth >= S_MAX_VALUE_DEPTH)
            return false;
        for (uint32_t i = 0; i < v->via.array.size; i++)
            if (s_value_match(node, &v->via.array.ptr[i], depth + 1))
                return true;
        return false;
    case MSGPACK_OBJECT_MAP:
        if (depth >= S_MAX_VALUE_DEPTH)
            return false;
        for (uint32_t i = 0; i < v->via.map.size; i++)
            if (s_value_match(node, &v->via.map.ptr[i].val, depth + 1))
                return true;
        return false;
    default:
        return false;
    }
}

static bool s_match(const s_node_t *node, const msgpack_object *v)
{
    msgpack_object tmp;
    switch (node->kind) {
    case CM_NULL:
        return true;
    case CM_AND:
        for (size_t i = 0; i < node->n; i++)
            if (!s_match(node->kids[i], v))
                return false;
        return true;
    case CM_OR:
        for (size_t i = 0; i < node->n; i++)
            if (s_match(node->kids[i], v))
                return true;
        return false;
    case CM_NOT:
        return !s_match(node->kids[0], v);
    case CM_PROP:
        return v && v->type != MSGPACK_OBJECT_NIL &&
               s_match(node->kids[0], s_get(v, node->str, node->len, &tmp));
    case CM_TRUTHY:
        return v && v->type != MSGPACK_OBJECT_NIL && s_truthy(s_get(v, node->str, node->len, &tmp));
    case CM_CMP: {
        double d = s_to_number(v, 0);
        switch (node->op) {
        case CMP_GT:
            return d > node->num;
        case CMP_GE:
            return d >= node->num;
        case CMP_LT:
            return d < node->num;
        default:
            return d <= node->num;
        }
    }
    default:
        return s_value_match(node, v, 0);
    }
}

bool xoc_api_cm_match_mp(const xoc_api_cm_t *cm, const msgpack_object *obj)
{
    return s_match(cm->root, obj);
}

/* ---- writing back ---------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t size, len;
} s_w_t;

static void s_w(s_w_t *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, w->len++)
        if (w->len + 1 < w->size)
            w->buf[w->len] = s[i];
}

static void s_ws_str(s_w_t *w, const char *s)
{
    s_w(w, s, strlen(s));
}

/* complex-matcher's formatString: raw when possible, quoted otherwise (and numbers) */
static void s_w_string(s_w_t *w, const char *s, size_t n)
{
    bool raw = true;
    for (size_t i = 0, l; i < n && raw; i += l)
        raw = (l = s_raw_char(s + i, n - i)) != 0;
    bool number = !isnan(s_js_number(s, n));
    if (raw && !number) {
        s_w(w, s, n);
        return;
    }
    s_w(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (!number && (s[i] == '"' || s[i] == '\\'))
            s_w(w, "\\", 1);
        s_w(w, s + i, 1);
    }
    s_w(w, "\"", 1);
}

/* JavaScript's String(number) for the usual cases */
static void s_w_number(s_w_t *w, double d)
{
    char b[40];
    if (isinf(d))
        snprintf(b, sizeof b, "%s", d < 0 ? "-Infinity" : "Infinity");
    else if (d == floor(d) && fabs(d) < 1e21)
        snprintf(b, sizeof b, "%.0f", d == 0 ? 0.0 : d);
    else
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(b, sizeof b, "%.*g", prec, d);
            if (strtod(b, NULL) == d)
                break;
        }
    s_ws_str(w, b);
}

static void s_write(s_w_t *w, const s_node_t *node, bool nested)
{
    static const char *const ops[] = {">", ">=", "<", "<="};
    switch (node->kind) {
    case CM_NULL:
        break;
    case CM_AND:
    case CM_OR:
        s_ws_str(w, node->kind == CM_OR ? "|(" : nested ? "(" : "");
        for (size_t i = 0; i < node->n; i++) {
            if (i)
                s_w(w, " ", 1);
            s_write(w, node->kids[i], true);
        }
        s_ws_str(w, node->kind == CM_OR || nested ? ")" : "");
        break;
    case CM_NOT:
        s_w(w, "!", 1);
        s_write(w, node->kids[0], true);
        break;
    case CM_PROP:
        s_w_string(w, node->str, node->len);
        s_w(w, ":", 1);
        s_write(w, node->kids[0], true);
        break;
    case CM_TRUTHY:
        s_w_string(w, node->str, node->len);
        s_w(w, "?", 1);
        break;
    case CM_STRING:
        s_w_string(w, node->str, node->len);
        break;
    case CM_NUMSTR:
    case CM_GLOB:
        s_w(w, node->str, node->len);
        break;
    case CM_REGEX:
        s_w(w, "/", 1);
        s_w(w, node->str, node->len);
        s_ws_str(w, node->icase ? "/i" : "/");
        break;
    case CM_CMP:
        s_ws_str(w, ops[node->op]);
        s_w_number(w, node->num);
        break;
    }
}

size_t xoc_api_cm_to_string(const xoc_api_cm_t *cm, char *buf, size_t size)
{
    s_w_t w = {buf, size, 0};
    s_write(&w, cm->root, false);
    if (size)
        buf[w.len < size ? w.len : size - 1] = '\0';
    return w.len;
}
