/*  Unit tests of xoc_api_cm (complex-matcher filters): a table of (filter, object,
    expected) over every construct, the syntax errors and the limits, and the canonical
    text written back (complex-matcher's own fixture round-trips).                         */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_api_cm.h"
#include "xoc_json.h"

static const char *const s_objects[] = {
    /* 0: a VM */
    "{\"id\":\"vm1\",\"type\":\"VM\",\"name_label\":\"Web Server 01\","
    "\"name_description\":\"first line\\nsecond Line\",\"power_state\":\"Running\","
    "\"CPUs\":{\"number\":2,\"max\":4},\"memory\":{\"size\":1073741824},"
    "\"tags\":[\"prod\",\"web\"],\"boot\":{\"order\":\"cdn\"},\"is_a_template\":false,"
    "\"auto_poweron\":true,\"VIFs\":[\"vif1\",\"vif2\"],\"addresses\":{\"0/ipv4/0\":\"10.0.0.5\"},"
    "\"count\":\"42\",\"nothing\":null,\"empty\":\"\",\"zero\":0,"
    "\"other\":{\"deep\":{\"deeper\":\"Needle\"}},\"startTime\":1700000000,\"ratio\":0.5,"
    "\"list1\":[7],\"quote\":\"say \\\"hi\\\" \\\\o/\",\"path\":\"x/a/b\",\"hex\":16,"
    "\"label_fr\":\"Syst\\u00e8me\",\"neg\":-3,\"rep\":\"aAaAb\"}",
    /* 1: a host */
    "{\"id\":\"h1\",\"type\":\"host\",\"name_label\":\"xcp-1\",\"power_state\":\"Running\","
    "\"tags\":[],\"cpus\":{\"cores\":8}}",
    /* 2: complex-matcher's README example */
    "{\"name\":\"Superman\",\"costumeColor\":\"blue\",\"hasCape\":true}",
};

typedef struct {
    const char *filter;
    int object;
    bool expected;
} s_case_t;

static const s_case_t s_cases[] = {
    /* empty */
    {"", 0, true},
    {"   ", 1, true},
    /* property: case-insensitive substring */
    {"type:VM", 0, true},
    {"type:vm", 0, true},
    {"type:V", 0, true},
    {"type:host", 0, false},
    {"type : VM", 0, true},
    {"type:VM", 1, false},
    /* AND */
    {"type:VM power_state:Running", 0, true},
    {"type:VM power_state:Halted", 0, false},
    {"  type:VM\t\npower_state:Running  ", 0, true},
    {"costumeColor:blue hasCape?", 2, true},
    /* OR */
    {"|(power_state:Halted power_state:Running)", 0, true},
    {"|(power_state:Halted type:host)", 0, false},
    {"| ( power_state:Halted type:VM )", 0, true},
    {"power_state:|(Halted Running)", 0, true},
    {"|(web)", 0, true},
    /* NOT */
    {"!type:host", 0, true},
    {"!type:VM", 0, false},
    {"! type:VM", 0, false},
    {"!(type:VM tags:dev)", 0, true},
    {"!missing:x", 0, true},
    /* groups */
    {"(type:VM tags:prod)", 0, true},
    {"(type:VM tags:dev)", 0, false},
    {"other:(deep:deeper:needle)", 0, true},
    /* bare strings: any string anywhere, recursively, not keys, not numbers */
    {"web", 0, true},
    {"WEB", 0, true},
    {"needle", 0, true},
    {"zzz", 0, false},
    {"power_state", 0, false},
    {"Syst\xc3\xa8me", 0, true},
    {"label_fr:syst", 0, true},
    {"xcp-1", 1, true},
    {"rep:aab", 0, true},
    {"rep:AAAAB", 0, true},
    {"rep:aaaaab", 0, false},
    {"rep:abab", 0, false},
    {"rep:b", 0, true},
    {"name_label:eRvE", 0, true},
    {"name_label:01x", 0, false},
    /* quoted strings and escapes; an unterminated quote runs to the end */
    {"\"web server\"", 0, true},
    {"name_label:\"Web Server 01\"", 0, true},
    {"quote:\"say \\\"hi\\\" \\\\o\"", 0, true},
    {"quote:\"say \\\"ho\"", 0, false},
    {"\"web", 0, true},
    {"\"\"", 0, true},
    {"\"addresses\":\"0/ipv4/0\":10.0.0.5", 0, true},
    {"\"auto_poweron\"?", 0, true},
    /* globs: any run of characters within a line */
    {"first*line", 0, true},
    {"first*second", 0, false},
    {"web*01", 0, true},
    {"s*r*v", 0, true},
    {"*", 0, true},
    {"10*5", 0, true},
    {"name_label:*erver*", 0, true},
    {"name_label:x*y", 0, false},
    /* regular expressions */
    {"name_label:/^web/i", 0, true},
    {"name_label:/^web/", 0, false},
    {"/server \\d+$/i", 0, true},
    {"/server \\d+$/", 0, false},
    {"addresses:/^10\\.0\\.0\\.\\d+$/", 0, true},
    {"name_label:/[0-9]{2}/", 0, true},
    {"name_label:/[0-9]{3}/", 0, false},
    {"path:/a\\/b/", 0, true},
    {"name_label:/(?:web|db) serv/i", 0, true},
    {"name_label:/\\bserver\\b/i", 0, true},
    {"name_label:/[\\s]0/", 0, true},
    {"name_label:/\\x57eb/", 0, true},
    {"name_label:/[^a-z ]/", 0, true},
    {"name_label:/a{/", 0, false},
    {"name_label:/We*?b/", 0, true},
    {"name_label:/x?"
     "?/",
     0, true},
    {"label_fr:/\\u00e8/", 0, true},
    {"tags:/^pro/", 0, true},
    {"CPUs:/2/", 0, false},
    {"//", 0, true},
    {"path:/\\/", 0, true}, /* complex-matcher's quirk: an escaped '/' at the end closes */
    /* numbers: equal numbers, or a substring of strings */
    {"CPUs:number:2", 0, true},
    {"CPUs:number:3", 0, false},
    {"CPUs:number:\"2\"", 0, false},
    {"count:42", 0, true},
    {"count:4", 0, true},
    {"memory:size:1073741824", 0, true},
    {"1073741824", 0, true},
    {"hex:0x10", 0, true},
    {"ratio:.5", 0, true},
    {"neg:-3", 0, true},
    {"name_label:01", 0, true},
    {"name_label:-", 0, false},
    /* comparisons (JavaScript conversions) */
    {"memory:size:>1000", 0, true},
    {"CPUs:number:>=2", 0, true},
    {"CPUs:number:>2", 0, false},
    {"CPUs:number:<3", 0, true},
    {"CPUs:number:<=1", 0, false},
    {"count:>41", 0, true},
    {"nothing:>-1", 0, true},
    {"missing:<1", 0, false},
    {"list1:>6", 0, true},
    {"tags:>0", 0, false},
    {"startTime:>1.5e9", 0, true},
    {"auto_poweron:>=1", 0, true},
    {"name_label:<1", 0, false},
    {">5", 0, false},
    {"cpus:cores:>4", 1, true},
    /* truthy properties */
    {"auto_poweron?", 0, true},
    {"is_a_template?", 0, false},
    {"empty?", 0, false},
    {"zero?", 0, false},
    {"nothing?", 0, false},
    {"missing?", 0, false},
    {"tags?", 0, true},
    {"tags?", 1, true},
    {"CPUs:max?", 0, true},
    {"!is_a_template?", 0, true},
    /* nested properties */
    {"boot:order:cdn", 0, true},
    {"boot:order:c", 0, true},
    {"boot:order:x", 0, false},
    {"other:deep:deeper:needle", 0, true},
    {"nothing:x:y", 0, false},
    {"!nothing:x", 0, true},
    /* arrays: any element; index and length */
    {"tags:web", 0, true},
    {"tags:dev", 0, false},
    {"tags:0:prod", 0, true},
    {"tags:1:prod", 0, false},
    {"tags:01:web", 0, false},
    {"VIFs:length:2", 0, true},
    {"tags:length:0", 1, true},
    {"name_label:length:13", 0, true},
    {"label_fr:length:>=7", 0, true},
    {"name_label:0:w", 0, true},
    {"name_label:1:w", 0, false},
    {"label_fr:4:\xc3\xa8", 0, true},
    {"empty:0?", 0, false},
    {"name_label:99?", 0, false},
};

static void s_to_mp(const char *json, msgpack_sbuffer *sb, msgpack_unpacked *up)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    msgpack_sbuffer_init(sb);
    assert_int_equal(xoc_json_to_mp(j, sb), 0);
    json_decref(j);
    msgpack_unpacked_init(up);
    assert_int_equal(msgpack_unpack_next(up, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
}

static void test_match_table(void **state)
{
    (void)state;
    size_t nobj = sizeof s_objects / sizeof s_objects[0];
    msgpack_sbuffer sb[3];
    msgpack_unpacked up[3];
    for (size_t i = 0; i < nobj; i++)
        s_to_mp(s_objects[i], &sb[i], &up[i]);
    int failures = 0;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const s_case_t *c = &s_cases[i];
        char err[256];
        xoc_api_cm_t *cm = xoc_api_cm_parse(c->filter, strlen(c->filter), err, sizeof err);
        if (!cm) {
            print_error("parse failed: %s -> %s\n", c->filter, err);
            failures++;
            continue;
        }
        bool got = xoc_api_cm_match_mp(cm, &up[c->object].data);
        if (got != c->expected) {
            print_error("%s on object %d: %d, expected %d\n", c->filter, c->object, got,
                        c->expected);
            failures++;
        }
        xoc_api_cm_destroy(&cm);
        assert_null(cm);
    }
    for (size_t i = 0; i < nobj; i++) {
        msgpack_unpacked_destroy(&up[i]);
        msgpack_sbuffer_destroy(&sb[i]);
    }
    assert_int_equal(failures, 0);
}

/* values that are not maps: the filter applies to them directly */
static void test_match_scalars(void **state)
{
    (void)state;
    msgpack_object v = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 32};
    char err[128];
    xoc_api_cm_t *a = xoc_api_cm_parse("32", 2, err, sizeof err);
    xoc_api_cm_t *b = xoc_api_cm_parse("\"32\"", 4, err, sizeof err);
    xoc_api_cm_t *c = xoc_api_cm_parse(">31", 3, err, sizeof err);
    xoc_api_cm_t *d = xoc_api_cm_parse("x:1", 3, err, sizeof err);
    assert_true(a && b && c && d);
    assert_true(xoc_api_cm_match_mp(a, &v));
    assert_false(xoc_api_cm_match_mp(b, &v));
    assert_true(xoc_api_cm_match_mp(c, &v));
    assert_false(xoc_api_cm_match_mp(d, &v));
    msgpack_object s = {.type = MSGPACK_OBJECT_STR, .via.str = {2, "32"}};
    assert_true(xoc_api_cm_match_mp(a, &s));
    assert_true(xoc_api_cm_match_mp(b, &s));
    assert_true(xoc_api_cm_match_mp(c, &s));
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    assert_false(xoc_api_cm_match_mp(d, &nil));
    xoc_api_cm_destroy(&a);
    xoc_api_cm_destroy(&b);
    xoc_api_cm_destroy(&c);
    xoc_api_cm_destroy(&d);
    xoc_api_cm_destroy(&d); /* NULL-safe */
    xoc_api_cm_destroy(NULL);
}

typedef struct {
    const char *filter;
    const char *error; /* expected substring of the message */
} s_error_t;

static const s_error_t s_errors[] = {
    {"(", "missing ')' for the '(' at position 0"},
    {"a (b |(c d) e", "missing ')' for the '(' at position 2"},
    {"(a b", "missing ')'"},
    {"()", "empty group at position 1"},
    {"|(", "missing ')'"},
    {"|x", "expected '(' after '|' at position 1"},
    {"|()", "empty group"},
    {")", "unexpected ')' at position 0"},
    {"a b ,", "unexpected ',' at position 4"},
    {"a:", "expected a term after ':' at position 2"},
    {"a: ", "expected a term after ':'"},
    {"a:)", "unexpected ')' at position 2"},
    {"x:?", "unexpected '?' at position 2"},
    {"f*o:bar", "unexpected ':' at position 3"},
    {"!", "expected a term after '!' at position 1"},
    {">abc", "a comparison needs a number at position 0"},
    {"> 5", "a comparison needs a number"},
    {"a:>", "a comparison needs a number at position 2"},
    {">1_000", "a comparison needs a number"},
    {"/abc", "unterminated regular expression at position 0"},
    {"/a\\/b", "unterminated regular expression"},
    {"/a**/", "nothing to repeat"},
    {"/*a/", "nothing to repeat"},
    {"/(+)/", "nothing to repeat"},
    {"/^*/", "nothing to repeat"},
    {"/a{2}+/", "nothing to repeat"},
    {"/(?=a)/", "lookarounds"},
    {"/(a)\\1/", "back-references"},
    {"/a{1000}/", "repetition counts too large"},
    {"/(a{100}){100}/", "repetition counts too large"},
    {"/(/", "invalid regular expression"},
    {"/a)/", "unmatched ')'"},
    {"/[a/", "missing ']'"},
    {"/[]/", "empty classes"},
    {"/\\0/", "\\0"},
    {"/\\xZZ/", "invalid \\x"},
    {"[resolve]:tags:x", "[resolve] is not supported"},
    {"a:[resolve:all]:b", "[resolve] is not supported at position 2"},
    {"[x", "unexpected '['"},
    {"a \xff", "unexpected character 0xff at position 2"},
    {"=", "unexpected '='"},
    {"\"ab\\", "unterminated quoted string ending with '\\' at position 3"},
    {"\"a\\", "unterminated quoted string"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_errors / sizeof s_errors[0]; i++) {
        char err[256];
        const char *f = s_errors[i].filter;
        xoc_api_cm_t *cm = xoc_api_cm_parse(f, strlen(f), err, sizeof err);
        if (cm || !strstr(err, s_errors[i].error))
            print_error("%s: %s (expected an error with \"%s\")\n", f, cm ? "parsed" : err,
                        s_errors[i].error);
        assert_null(cm);
        assert_non_null(strstr(err, s_errors[i].error));
    }
    /* a short error buffer is still terminated; errlen 0 is allowed */
    char small[8];
    assert_null(xoc_api_cm_parse(")", 1, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_null(xoc_api_cm_parse(")", 1, NULL, 0));
    /* NUL inside the text */
    char err[128];
    assert_null(xoc_api_cm_parse("a\0b", 3, err, sizeof err));
    assert_null(xoc_api_cm_parse("/a\0b/", 5, err, sizeof err));
    assert_non_null(strstr(err, "NUL"));
    /* a text that stops inside a keyword */
    assert_null(xoc_api_cm_parse("[reso", 5, err, sizeof err));
    assert_non_null(strstr(err, "unexpected '['"));
}

static void s_expect_error(const char *text, size_t len, const char *what)
{
    char err[256];
    xoc_api_cm_t *cm = xoc_api_cm_parse(text, len, err, sizeof err);
    if (cm || !strstr(err, what))
        print_error("expected \"%s\", got %s\n", what, cm ? "a matcher" : err);
    assert_null(cm);
    assert_non_null(strstr(err, what));
}

static void test_limits(void **state)
{
    (void)state;
    char *big = malloc(XOC_API_CM_MAX_LEN + 2);
    assert_non_null(big);
    memset(big, 'a', XOC_API_CM_MAX_LEN + 1);
    s_expect_error(big, XOC_API_CM_MAX_LEN + 1, "filter too long");
    char err[256];
    xoc_api_cm_t *cm = xoc_api_cm_parse(big, XOC_API_CM_MAX_LEN, err, sizeof err);
    assert_non_null(cm); /* one long word is fine */
    xoc_api_cm_destroy(&cm);

    /* nesting: MAX_DEPTH levels parse, one more does not */
    for (int extra = 0; extra <= 1; extra++) {
        size_t depth = XOC_API_CM_MAX_DEPTH - 1 + (size_t)extra, n = 0;
        for (size_t i = 0; i < depth; i++)
            big[n++] = '(';
        big[n++] = 'a';
        for (size_t i = 0; i < depth; i++)
            big[n++] = ')';
        cm = xoc_api_cm_parse(big, n, err, sizeof err);
        if (extra)
            assert_non_null(strstr(err, "nested too deeply"));
        else
            assert_non_null(cm);
        xoc_api_cm_destroy(&cm);
    }
    size_t n = 0;
    for (int i = 0; i < XOC_API_CM_MAX_DEPTH + 5; i++)
        big[n++] = '!';
    big[n++] = 'a';
    s_expect_error(big, n, "nested too deeply");

    /* node count */
    n = 0;
    for (int i = 0; i < XOC_API_CM_MAX_NODES + 1; i++)
        big[n++] = 'a', big[n++] = ' ';
    s_expect_error(big, n, "too many terms");

    /* regular expressions: count and length */
    n = 0;
    for (int i = 0; i < XOC_API_CM_MAX_REGEX + 1; i++)
        n += (size_t)sprintf(big + n, "/a%d/ ", i);
    s_expect_error(big, n, "too many regular expressions");
    n = 0;
    big[n++] = '/';
    for (int i = 0; i < XOC_API_CM_MAX_REGEX_LEN + 1; i++)
        big[n++] = 'x';
    big[n++] = '/';
    s_expect_error(big, n, "regular expression too long");
    /* the longest pattern, all of it escapes (the translation grows it) */
    n = 0;
    big[n++] = '/';
    for (int i = 0; i < XOC_API_CM_MAX_REGEX_LEN / 2; i++)
        big[n++] = '\\', big[n++] = 'S';
    big[n++] = '/';
    cm = xoc_api_cm_parse(big, n, err, sizeof err);
    assert_non_null(cm);
    xoc_api_cm_destroy(&cm);
    free(big);
}

/* the canonical text, as complex-matcher's toString writes it */
static void test_to_string(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        /* complex-matcher's fixture pattern round-trips */
        {"foo !\"\\\\ \\\"\" name:|(wonderwoman batman) hasCape? age:32 chi*go /^foo\\/bar\\./i",
         "foo !\"\\\\ \\\"\" name:|(wonderwoman batman) hasCape? age:32 chi*go /^foo\\/bar\\./i"},
        {"", ""},
        {"  a   b ", "a b"},
        {"\"32\"", "\"32\""},
        {"32", "32"},
        {"a:(b c)", "a:(b c)"},
        {"(a)", "a"},
        {"|(a)", "a"},
        {"!(a b)", "!(a b)"},
        {"type : VM", "type:VM"},
        {"\"a b\":c", "\"a b\":c"},
        {"\"a\":\"b\"", "a:b"},
        {"\"12\":x", "\"12\":x"},
        {">1e3", ">1000"},
        {"x:<=-2.5", "x:<=-2.5"},
        {"a? \"b c\"?", "a? \"b c\"?"},
        {"(a (b c))", "a (b c)"},
        {"\"\"", "\"\""},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char err[128], out[256];
        xoc_api_cm_t *cm = xoc_api_cm_parse(pairs[i][0], strlen(pairs[i][0]), err, sizeof err);
        assert_non_null(cm);
        size_t n = xoc_api_cm_to_string(cm, out, sizeof out);
        assert_int_equal(n, strlen(pairs[i][1]));
        assert_string_equal(out, pairs[i][1]);
        char tiny[4];
        assert_int_equal(xoc_api_cm_to_string(cm, tiny, sizeof tiny), n);
        assert_true(strlen(tiny) < sizeof tiny);
        xoc_api_cm_destroy(&cm);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table), cmocka_unit_test(test_match_scalars),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_limits),
        cmocka_unit_test(test_to_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
