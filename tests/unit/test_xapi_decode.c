/*  XAPI response decoders (XML-RPC, JSON-RPC) on byte buffers: values, envelopes, faults,
    streamed records and events, split deliveries, and bad input (truncated, malformed,
    wrong types, huge values, deep nesting, invalid UTF-8).                                  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_xapi.h"
#include "xoc_xapi_int.h"

/*  ---- helpers ------------------------------------------------------------------------- */

static char s_dumped[65536];

/*  msgpack bytes -> msgpack-c's text form, e.g. {"a"=>[1, "x"]}; checks exactly one value. */
static const char *s_dump(const void *data, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, data, len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    msgpack_object_print_buffer(s_dumped, sizeof s_dumped, u.data);
    msgpack_unpacked_destroy(&u);
    return s_dumped;
}

typedef struct {
    int n;
    char keys[16][64];
    char vals[16][1024];
    int stop_at; /* return -99 at this entry (0 = never) */
} s_entries;

static int s_on_entry(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    s_entries *e = arg;
    if (e->stop_at && e->n + 1 == e->stop_at)
        return -99;
    if (e->n < 16) {
        snprintf(e->keys[e->n], sizeof e->keys[0], "%.*s", (int)key_len, key ? key : "");
        snprintf(e->vals[e->n], sizeof e->vals[0], "%s", s_dump(mp, mp_len));
    }
    e->n++;
    return 0;
}

static int s_xml(const char *body, const xoc_xapi_decode_opts_t *o, msgpack_sbuffer *out,
                 xoc_xapi_fault_t *f)
{
    return xoc_xapi_decode_xmlrpc(body, strlen(body), o, out, f);
}

static int s_json(const char *body, const xoc_xapi_decode_opts_t *o, msgpack_sbuffer *out,
                  xoc_xapi_fault_t *f)
{
    return xoc_xapi_decode_jsonrpc(body, strlen(body), o, out, f);
}

#define XHEAD "<?xml version=\"1.0\"?><methodResponse><params><param><value>"
#define XTAIL "</value></param></params></methodResponse>"
#define XOK(v) XHEAD "<struct><member><name>Status</name><value>Success</value></member>" \
               "<member><name>Value</name>" v "</member></struct>" XTAIL

static const char s_xml_login[] = XOK("<value>OpaqueRef:9f3c1d3a-5c0e-4f1b-a1de-5c7f0a2b7c11</value>");

static const char s_xml_fail[] =
    XHEAD "<struct><member><name>Status</name><value>Failure</value></member>"
    "<member><name>ErrorDescription</name><value><array><data><value>SESSION_INVALID</value>"
    "<value>OpaqueRef:dead</value></data></array></value></member></struct>" XTAIL;

static const char s_xml_records[] = XOK(
    "<value><struct>"
    "<member><name>OpaqueRef:a</name><value><struct><member><name>uuid</name><value>u-a</value>"
    "</member><member><name>memory_target</name><value>4294967296</value></member></struct>"
    "</value></member>"
    "<member><name>OpaqueRef:b</name><value><struct><member><name>uuid</name><value>u-b</value>"
    "</member><member><name>tags</name><value><array><data><value>x</value></data></array>"
    "</value></member></struct></value></member>"
    "</struct></value>");

static const char s_xml_events[] = XOK(
    "<value><struct>"
    "<member><name>events</name><value><array><data>"
    "<value><struct><member><name>class</name><value>vm</value></member>"
    "<member><name>operation</name><value>mod</value></member>"
    "<member><name>ref</name><value>OpaqueRef:a</value></member>"
    "<member><name>snapshot</name><value><struct><member><name>power_state</name>"
    "<value>Running</value></member></struct></value></member></struct></value>"
    "<value><struct><member><name>class</name><value>vm</value></member>"
    "<member><name>operation</name><value>del</value></member>"
    "<member><name>ref</name><value>OpaqueRef:b</value></member></struct></value>"
    "</data></array></value></member>"
    "<member><name>valid_ref_counts</name><value><struct><member><name>vm</name>"
    "<value><i4>2</i4></value></member></struct></value></member>"
    "<member><name>token</name><value>00000000000000000012,00000000000000000003</value></member>"
    "</struct></value>");

static const char s_json_records[] =
    "{\"jsonrpc\":\"2.0\",\"result\":{\"OpaqueRef:a\":{\"uuid\":\"u-a\",\"memory_target\":"
    "4294967296},\"OpaqueRef:b\":{\"uuid\":\"u-b\",\"tags\":[\"x\"]}},\"id\":1}";

static const char s_json_events[] =
    "{\"jsonrpc\":\"2.0\",\"result\":{\"events\":[{\"class\":\"vm\",\"operation\":\"mod\","
    "\"ref\":\"OpaqueRef:a\",\"snapshot\":{\"power_state\":\"Running\"}},{\"class\":\"vm\","
    "\"operation\":\"del\",\"ref\":\"OpaqueRef:b\"}],\"valid_ref_counts\":{\"vm\":2},"
    "\"token\":\"00000000000000000012,00000000000000000003\"},\"id\":7}";

/*  ---- XML-RPC ---------------------------------------------------------------------------- */

static void test_xml_success_string(void **state)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_xml(s_xml_login, NULL, &out, NULL), 0);
    assert_string_equal(s_dump(out.data, out.size),
                        "\"OpaqueRef:9f3c1d3a-5c0e-4f1b-a1de-5c7f0a2b7c11\"");
    msgpack_sbuffer_destroy(&out);
}

static void test_xml_failure(void **state)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    xoc_xapi_fault_t f = {0};
    assert_int_equal(s_xml(s_xml_fail, NULL, &out, &f), XOC_EXAPI);
    assert_string_equal(f.code, "SESSION_INVALID");
    assert_int_equal(f.nparams, 1);
    assert_string_equal(f.params[0], "OpaqueRef:dead");
    assert_int_equal(out.size, 0);
    xoc_xapi_fault_clear(&f);
    assert_null(f.code);
    msgpack_sbuffer_destroy(&out);
}

static void test_xml_types(void **state)
{
    const char *body = XOK(
        "<value><struct>"
        "<member><name>s</name><value><string>a&amp;b&lt;c&gt;&#233;</string></value></member>"
        "<member><name>bare</name><value>x y</value></member>"
        "<member><name>empty</name><value/></member>"
        "<member><name>empty2</name><value><string></string></value></member>"
        "<member><name>int</name><value>-42</value></member>"
        "<member><name>i4</name><value><i4>-7</i4></value></member>"
        "<member><name>big</name><value><int>9223372036854775807</int></value></member>"
        "<member><name>d</name><value><double>1.5</double></value></member>"
        "<member><name>t</name><value><boolean>1</boolean></value></member>"
        "<member><name>f</name><value><boolean>0</boolean></value></member>"
        "<member><name>when</name><value><dateTime.iso8601>20240102T03:04:05Z</dateTime.iso8601>"
        "</value></member>"
        "<member><name>nil</name><value><nil/></value></member>"
        "<member><name>arr</name><value><array><data/></array></value></member>"
        "<member><name>map</name><value><struct></struct></value></member>"
        "<member><name>cdata</name><value><![CDATA[<raw>]]></value></member>"
        "</struct></value>");
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_xml(body, NULL, &out, NULL), 0);
    assert_string_equal(s_dump(out.data, out.size),
                        "{\"s\"=>\"a&b<c>\xc3\xa9\", \"bare\"=>\"x y\", \"empty\"=>\"\", "
                        "\"empty2\"=>\"\", \"int\"=>\"-42\", \"i4\"=>-7, "
                        "\"big\"=>9223372036854775807, \"d\"=>1.500000, \"t\"=>true, "
                        "\"f\"=>false, \"when\"=>\"20240102T03:04:05Z\", \"nil\"=>nil, "
                        "\"arr\"=>[], \"map\"=>{}, \"cdata\"=>\"<raw>\"}");
    out.size = 0;
    xoc_xapi_decode_opts_t o = {.flags = XOC_XAPI_INT_AS_STRING};
    assert_int_equal(s_xml(body, &o, &out, NULL), 0);
    assert_non_null(strstr(s_dump(out.data, out.size), "\"i4\"=>\"-7\""));
    msgpack_sbuffer_destroy(&out);
}

static void test_xml_pretty_printed(void **state)
{
    const char *body = "<?xml version=\"1.0\"?>\n<methodResponse>\n <params>\n  <param>\n"
                       "   <value>\n    <struct>\n     <member>\n      <name>Status</name>\n"
                       "      <value>Success</value>\n     </member>\n     <member>\n"
                       "      <name>Value</name>\n      <value>\n       <array>\n"
                       "        <data>\n         <value>a</value>\n         <value>b</value>\n"
                       "        </data>\n       </array>\n      </value>\n     </member>\n"
                       "    </struct>\n   </value>\n  </param>\n </params>\n</methodResponse>\n";
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_xml(body, NULL, &out, NULL), 0);
    assert_string_equal(s_dump(out.data, out.size), "[\"a\", \"b\"]");
    msgpack_sbuffer_destroy(&out);
}

static void test_xml_bare_list_methods(void **state)
{
    const char *body = XHEAD "<array><data><value>VM.get_all_records</value>"
                             "<value>host.get_all_records</value></data></array>" XTAIL;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_xml(body, NULL, &out, NULL), 0);
    assert_string_equal(s_dump(out.data, out.size),
                        "[\"VM.get_all_records\", \"host.get_all_records\"]");
    msgpack_sbuffer_destroy(&out);
}

static void test_xml_fault_element(void **state)
{
    const char *body = "<?xml version=\"1.0\"?><methodResponse><fault><value><struct>"
                       "<member><name>faultCode</name><value><int>-1</int></value></member>"
                       "<member><name>faultString</name><value>Missing Value</value></member>"
                       "</struct></value></fault></methodResponse>";
    xoc_xapi_fault_t f = {0};
    assert_int_equal(s_xml(body, NULL, NULL, &f), XOC_EXAPI);
    assert_string_equal(f.code, "XMLRPC_FAULT");
    assert_int_equal(f.nparams, 2);
    assert_string_equal(f.params[0], "-1");
    assert_string_equal(f.params[1], "Missing Value");
    xoc_xapi_fault_clear(&f);
}

static void test_xml_records_streamed(void **state)
{
    s_entries e = {0};
    xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_RECORDS, .on_entry = s_on_entry, .arg = &e};
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_xml(s_xml_records, &o, &out, NULL), 0);
    assert_int_equal(out.size, 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.keys[0], "OpaqueRef:a");
    assert_string_equal(e.vals[0], "{\"uuid\"=>\"u-a\", \"memory_target\"=>\"4294967296\"}");
    assert_string_equal(e.keys[1], "OpaqueRef:b");
    assert_string_equal(e.vals[1], "{\"uuid\"=>\"u-b\", \"tags\"=>[\"x\"]}");
    msgpack_sbuffer_destroy(&out);
}

static void test_xml_events_streamed(void **state)
{
    s_entries e = {0};
    xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_EVENTS, .on_entry = s_on_entry, .arg = &e};
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_xml(s_xml_events, &o, &out, NULL), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.keys[0], "");
    assert_string_equal(e.vals[0], "{\"class\"=>\"vm\", \"operation\"=>\"mod\", \"ref\"=>"
                                   "\"OpaqueRef:a\", \"snapshot\"=>{\"power_state\"=>\"Running\"}}");
    assert_string_equal(e.vals[1],
                        "{\"class\"=>\"vm\", \"operation\"=>\"del\", \"ref\"=>\"OpaqueRef:b\"}");
    assert_string_equal(s_dump(out.data, out.size),
                        "{\"valid_ref_counts\"=>{\"vm\"=>2}, "
                        "\"token\"=>\"00000000000000000012,00000000000000000003\"}");
    msgpack_sbuffer_destroy(&out);
}

/*  ---- JSON-RPC --------------------------------------------------------------------------- */

static void test_json_values(void **state)
{
    const char *body = "{\"jsonrpc\":\"2.0\",\"result\":{\"s\":\"\\u00e9\\n\",\"i\":-5,"
                       "\"u\":18446744073709551615,\"d\":0.25,\"e\":1e3,\"t\":true,\"n\":null,"
                       "\"a\":[1,[2,{}]]},\"id\":3}";
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_json(body, NULL, &out, NULL), 0);
    assert_string_equal(s_dump(out.data, out.size),
                        "{\"s\"=>\"\xc3\xa9\n\", \"i\"=>-5, \"u\"=>18446744073709551615, "
                        "\"d\"=>0.250000, \"e\"=>1000.000000, \"t\"=>true, \"n\"=>nil, "
                        "\"a\"=>[1, [2, {}]]}");
    out.size = 0;
    xoc_xapi_decode_opts_t o = {.flags = XOC_XAPI_INT_AS_STRING};
    assert_int_equal(s_json(body, &o, &out, NULL), 0);
    assert_non_null(strstr(s_dump(out.data, out.size), "\"i\"=>\"-5\""));
    /* the ends of int64 and uint64, and text of 8+ ASCII bytes around a multi-byte char */
    out.size = 0;
    const char *ends = "{\"result\":[-9223372036854775808,9223372036854775807,"
                       "9223372036854775808,-0,0,\"0123456789\u00e9abcdefgh\\tij\"]}";
    assert_int_equal(s_json(ends, NULL, &out, NULL), 0);
    assert_string_equal(s_dump(out.data, out.size),
                        "[-9223372036854775808, 9223372036854775807, 9223372036854775808, 0, "
                        "0, \"0123456789\xc3\xa9" "abcdefgh\tij\"]");
    msgpack_sbuffer_destroy(&out);
}

static void test_json_errors(void **state)
{
    xoc_xapi_fault_t f = {0};
    const char *v2 = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"VM_BAD_POWER_STATE\","
                     "\"data\":[\"OpaqueRef:v\",\"halted\",\"running\"]},\"id\":3}";
    assert_int_equal(s_json(v2, NULL, NULL, &f), XOC_EXAPI);
    assert_string_equal(f.code, "VM_BAD_POWER_STATE");
    assert_int_equal(f.nparams, 3);
    assert_string_equal(f.params[2], "running");
    const char *v1 = "{\"result\":null,\"error\":[\"HOST_IS_SLAVE\",\"10.0.0.2\"],\"id\":\"x\"}";
    assert_int_equal(s_json(v1, NULL, NULL, &f), XOC_EXAPI);
    assert_string_equal(f.code, "HOST_IS_SLAVE");
    assert_string_equal(f.params[0], "10.0.0.2");
    const char *ok1 = "{\"result\":\"OpaqueRef:x\",\"error\":null,\"id\":\"x\"}";
    assert_int_equal(s_json(ok1, NULL, NULL, &f), 0);
    assert_null(f.code);
    const char *empty = "{\"result\":null,\"error\":[\"\",\"\"],\"id\":\"x\"}";
    assert_int_equal(s_json(empty, NULL, NULL, &f), XOC_EXAPI);
    assert_string_equal(f.code, "");
    assert_string_equal(f.params[0], "");
    const char *num = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"\","
                      "\"data\":7},\"id\":1}";
    assert_int_equal(s_json(num, NULL, NULL, &f), XOC_EXAPI);
    assert_string_equal(f.code, "UNKNOWN_ERROR");
    assert_string_equal(f.params[0], "7");
    xoc_xapi_fault_clear(&f);
}

static void test_json_streamed(void **state)
{
    s_entries e = {0};
    xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_RECORDS, .on_entry = s_on_entry, .arg = &e};
    assert_int_equal(s_json(s_json_records, &o, NULL, NULL), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.keys[1], "OpaqueRef:b");
    assert_string_equal(e.vals[0], "{\"uuid\"=>\"u-a\", \"memory_target\"=>4294967296}");
    memset(&e, 0, sizeof e);
    o.mode = XOC_XAPI_EVENTS;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_json(s_json_events, &o, &out, NULL), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.vals[0], "{\"class\"=>\"vm\", \"operation\"=>\"mod\", \"ref\"=>"
                                   "\"OpaqueRef:a\", \"snapshot\"=>{\"power_state\"=>\"Running\"}}");
    assert_string_equal(s_dump(out.data, out.size),
                        "{\"valid_ref_counts\"=>{\"vm\"=>2}, "
                        "\"token\"=>\"00000000000000000012,00000000000000000003\"}");
    msgpack_sbuffer_destroy(&out);
}

static void test_callback_stops(void **state)
{
    s_entries e = {.stop_at = 2};
    xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_RECORDS, .on_entry = s_on_entry, .arg = &e};
    assert_int_equal(s_json(s_json_records, &o, NULL, NULL), -99);
    assert_int_equal(e.n, 1);
    memset(&e, 0, sizeof e);
    e.stop_at = 1;
    o.mode = XOC_XAPI_EVENTS;
    assert_int_equal(s_xml(s_xml_events, &o, NULL, NULL), -99);
    assert_int_equal(e.n, 0);
}

/*  ---- split deliveries ------------------------------------------------------------------ */

/*  Feeds body in pieces of `step` bytes through the streaming parser.                      */
static int s_feed_split(xoc_xapi_transport_t t, const char *body, size_t step,
                        const xoc_xapi_decode_opts_t *opts, msgpack_sbuffer *out)
{
    xoc_xapi_decode_opts_t o;
    assert_int_equal(xoc_xapi_opts_check(opts, &o), 0);
    xoc_xapi_parser_t *p = xoc_xapi_parser_new(t, &o, out);
    assert_non_null(p);
    size_t len = strlen(body);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += step)
        rc = xoc_xapi_parser_feed(p, body + off, len - off < step ? len - off : step);
    if (rc == 0)
        rc = xoc_xapi_parser_finish(p, NULL);
    xoc_xapi_parser_destroy(&p);
    return rc;
}

static void test_split_deliveries_same_result(void **state)
{
    const char *bodies[] = {s_xml_events, s_json_events};
    xoc_xapi_transport_t ts[] = {XOC_XAPI_XMLRPC, XOC_XAPI_JSONRPC};
    for (int b = 0; b < 2; b++) {
        s_entries whole = {0};
        xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_EVENTS, .on_entry = s_on_entry, .arg = &whole};
        msgpack_sbuffer ref, out;
        msgpack_sbuffer_init(&ref);
        msgpack_sbuffer_init(&out);
        assert_int_equal(s_feed_split(ts[b], bodies[b], 1 << 20, &o, &ref), 0);
        size_t steps[] = {1, 2, 3, 7, 64};
        for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
            s_entries e = {0};
            o.arg = &e;
            out.size = 0;
            assert_int_equal(s_feed_split(ts[b], bodies[b], steps[k], &o, &out), 0);
            assert_int_equal(e.n, whole.n);
            assert_memory_equal(e.vals, whole.vals, sizeof e.vals);
            assert_int_equal(out.size, ref.size);
            assert_memory_equal(out.data, ref.data, ref.size);
        }
        msgpack_sbuffer_destroy(&ref);
        msgpack_sbuffer_destroy(&out);
    }
}

/*  ---- bad input --------------------------------------------------------------------------- */

static void test_truncated_every_prefix(void **state)
{
    const char *bodies[] = {s_xml_events, s_json_events, s_xml_fail, s_xml_login};
    for (int b = 0; b < 4; b++) {
        size_t len = strlen(bodies[b]);
        for (size_t n = 0; n < len; n++) {
            msgpack_sbuffer out;
            msgpack_sbuffer_init(&out);
            msgpack_sbuffer_write(&out, "\xc0", 1); /* prior content must survive */
            s_entries e = {0};
            xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_EVENTS, .on_entry = s_on_entry, .arg = &e};
            int rc = b == 1 ? xoc_xapi_decode_jsonrpc(bodies[b], n, &o, &out, NULL)
                            : xoc_xapi_decode_xmlrpc(bodies[b], n, b == 0 ? &o : NULL, &out, NULL);
            if (rc != XOC_ETRUNCATED)
                fail_msg("body %d prefix %zu: rc %d", b, n, rc);
            assert_int_equal(out.size, 1);
            msgpack_sbuffer_destroy(&out);
        }
    }
}

static void test_malformed(void **state)
{
    struct {
        const char *body;
        int rc;
    } xml[] = {
        {XHEAD "<struct><member><name>Status</name><value>Success</value></member><foo/>", XOC_EPROTO},
        {"<?xml version=\"1.0\"?><methodResponse><params><param><value>a</value></param>"
         "<param><value>b</value></param></params></methodResponse>", XOC_EPROTO},
        {"garbage", XOC_EPROTO},
        {XOK("<value>x</value>") "trailing", XOC_EPROTO},
        {XOK("<value>a</value><value>b</value>"), XOC_EPROTO},
        {XOK("<value><boolean>2</boolean></value>"), XOC_ETYPE},
        {XOK("<value><i4>12a</i4></value>"), XOC_ETYPE},
        {XOK("<value><int>99999999999999999999</int></value>"), XOC_ETYPE},
        {XOK("<value><double>x</double></value>"), XOC_ETYPE},
        {XOK("<value><string><b>x</b></string></value>"), XOC_EPROTO},
        {XOK("<value>&undefined;</value>"), XOC_EPROTO},
        {XOK("<value>\xff\xfe</value>"), XOC_EPROTO},
        {XHEAD "<struct><member><name>Value</name><value>x</value></member></struct>" XTAIL,
         XOC_EPROTO},
        {XHEAD "<struct><member><name>Status</name><value>Success</value></member></struct>" XTAIL,
         XOC_EPROTO},
        {"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
         "\"&lol;&lol;&lol;&lol;\">]><methodResponse><params><param><value>&lol2;</value>"
         "</param></params></methodResponse>", XOC_EPROTO},
    };
    for (size_t i = 0; i < sizeof xml / sizeof xml[0]; i++) {
        int rc = s_xml(xml[i].body, NULL, NULL, NULL);
        if (rc != xml[i].rc)
            fail_msg("xml case %zu: rc %d, want %d", i, rc, xml[i].rc);
    }
    struct {
        const char *body;
        int rc;
    } json[] = {
        {"[1,2]", XOC_EPROTO},
        {"\"x\"", XOC_EPROTO},
        {"{\"result\":1} {}", XOC_EPROTO},
        {"{\"result\":\"\xc3\x28\"}", XOC_EPROTO},
        {"{\"result\":\"\xc0\x80\"}", XOC_EPROTO},
        {"{\"result\":\"\xed\xa0\x80\"}", XOC_EPROTO},
        {"{\"\xed\xa0\x80\":1}", XOC_EPROTO},
        {"{\"result\":1,\"result\":2}", XOC_EPROTO},
        {"{\"id\":1}", XOC_EPROTO},
        {"{\"result\":123456789012345678901234}", XOC_ETYPE},
        {"{\"result\":1e999}", XOC_ETYPE},
        {"{/*c*/\"result\":1}", XOC_EPROTO},
        {"{\"result\":-9223372036854775809}", XOC_ETYPE},
        {"{\"result\":18446744073709551616}", XOC_ETYPE},
        {"{\"result\":99999999999999999999}", XOC_ETYPE},
        {"{\"result\":\"0123456789abcdef\xc3\x28 and more ASCII\"}", XOC_EPROTO},
        {"{\"result\":\"0123456789abcdef\xc0\x80 and more ASCII\"}", XOC_EPROTO},
        {"{\"0123456789abcdefghij\xed\xa0\x80\":1}", XOC_EPROTO},
    };
    for (size_t i = 0; i < sizeof json / sizeof json[0]; i++) {
        int rc = s_json(json[i].body, NULL, NULL, NULL);
        if (rc != json[i].rc)
            fail_msg("json case %zu: rc %d, want %d", i, rc, json[i].rc);
    }
}

static void test_wrong_shapes_for_streams(void **state)
{
    s_entries e = {0};
    xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_RECORDS, .on_entry = s_on_entry, .arg = &e};
    assert_int_equal(s_json("{\"result\":[1]}", &o, NULL, NULL), XOC_ETYPE);
    assert_int_equal(s_json("{\"result\":\"x\"}", &o, NULL, NULL), XOC_ETYPE);
    o.mode = XOC_XAPI_EVENTS;
    assert_int_equal(s_json("{\"result\":{\"events\":{}}}", &o, NULL, NULL), XOC_ETYPE);
    assert_int_equal(s_json("{\"result\":{\"events\":3}}", &o, NULL, NULL), XOC_ETYPE);
    assert_int_equal(s_json("{\"result\":null,\"error\":null}", &o, NULL, NULL), XOC_ETYPE);
    xoc_xapi_fault_t f = {0};
    assert_int_equal(s_json("{\"result\":null,\"error\":[\"EVENTS_LOST\"],\"id\":1}", &o, NULL, &f),
                     XOC_EXAPI);
    assert_string_equal(f.code, "EVENTS_LOST");
    xoc_xapi_fault_clear(&f);
    o.on_entry = NULL;
    assert_int_equal(s_json("{\"result\":{}}", &o, NULL, NULL), XOC_EINVAL);
}

static void test_limits(void **state)
{
    char *big = malloc(300000);
    assert_non_null(big);
    int n = snprintf(big, 300000, "{\"result\":\"");
    memset(big + n, 'a', 200000);
    strcpy(big + n + 200000, "\"}");
    xoc_xapi_decode_opts_t o = {.max_value = 100000};
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_json(big, &o, &out, NULL), XOC_ETOOBIG);
    assert_int_equal(out.size, 0);
    o.max_value = 0;
    assert_int_equal(s_json(big, &o, &out, NULL), 0);
    out.size = 0;
    /* XML text over the limit */
    n = snprintf(big, 300000, XHEAD);
    memset(big + n, 'a', 200000);
    strcpy(big + n + 200000, XTAIL);
    o.max_value = 100000;
    assert_int_equal(s_xml(big, &o, &out, NULL), XOC_ETOOBIG);
    /* one record over the limit in a streamed get_all_records: the small one passes first */
    s_entries e = {0};
    o.mode = XOC_XAPI_RECORDS;
    o.on_entry = s_on_entry;
    o.arg = &e;
    o.max_value = 1000;
    n = snprintf(big, 300000, "{\"result\":{\"OpaqueRef:a\":{\"x\":1},\"OpaqueRef:b\":[");
    for (int i = 0; i < 2000; i++)
        n += snprintf(big + n, 300000 - (size_t)n, "%s1", i ? "," : "");
    strcpy(big + n, "]}}");
    assert_int_equal(s_json(big, &o, NULL, NULL), XOC_ETOOBIG);
    assert_int_equal(e.n, 1);
    free(big);
    msgpack_sbuffer_destroy(&out);
}

/*  A 5 000-record answer (megabytes) streams through with a 2 KiB limit per value: memory
    follows the largest record, never the answer; a plain decode of it is refused.         */
static void test_stream_memory_bounded(void **state)
{
    size_t cap = 8 << 20;
    char *j = malloc(cap), *x = malloc(cap);
    size_t nj = (size_t)sprintf(j, "{\"jsonrpc\":\"2.0\",\"result\":{");
    size_t nx = (size_t)sprintf(x, XHEAD "<struct><member><name>Status</name><value>Success"
                                         "</value></member><member><name>Value</name><value>"
                                         "<struct>");
    for (int i = 0; i < 5000; i++) {
        nj += (size_t)sprintf(j + nj, "%s\"OpaqueRef:%08d\":{\"uuid\":\"%08d\",\"name_label\":"
                              "\"vm %d\",\"other_config\":{\"a\":\"%0500d\"}}",
                              i ? "," : "", i, i, i, i);
        nx += (size_t)sprintf(x + nx, "<member><name>OpaqueRef:%08d</name><value><struct><member>"
                              "<name>uuid</name><value>%08d</value></member><member><name>"
                              "other_config</name><value><struct><member><name>a</name><value>"
                              "%0500d</value></member></struct></value></member></struct>"
                              "</value></member>", i, i, i);
    }
    strcpy(j + nj, "},\"id\":1}");
    strcpy(x + nx, "</struct></value></member></struct>" XTAIL);
    s_entries e = {0};
    xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_RECORDS, .on_entry = s_on_entry, .arg = &e,
                                .max_value = 2048};
    assert_int_equal(s_json(j, &o, NULL, NULL), 0);
    assert_int_equal(e.n, 5000);
    e.n = 0;
    assert_int_equal(s_xml(x, &o, NULL, NULL), 0);
    assert_int_equal(e.n, 5000);
    o.mode = XOC_XAPI_PLAIN;
    assert_int_equal(s_json(j, &o, NULL, NULL), XOC_ETOOBIG);
    assert_int_equal(s_xml(x, &o, NULL, NULL), XOC_ETOOBIG);
    free(j);
    free(x);
}

static void test_deep_nesting(void **state)
{
    size_t depth = 200000;
    char *j = malloc(depth * 2 + 64);
    assert_non_null(j);
    size_t n = (size_t)sprintf(j, "{\"result\":");
    memset(j + n, '[', depth);
    n += depth;
    memset(j + n, ']', depth);
    n += depth;
    strcpy(j + n, "}");
    assert_int_equal(s_json(j, NULL, NULL, NULL), XOC_ETOOBIG);
    free(j);
    /* XML: 40 nested arrays, limit 32 -> too deep; limit 64 -> fine */
    char *x = malloc(65536);
    n = (size_t)sprintf(x, XHEAD);
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(x + n, "<array><data><value>");
    n += (size_t)sprintf(x + n, "leaf");
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(x + n, "</value></data></array>");
    strcpy(x + n, XTAIL);
    assert_int_equal(s_xml(x, NULL, NULL, NULL), XOC_ETOOBIG);
    xoc_xapi_decode_opts_t o = {.max_depth = 64};
    assert_int_equal(s_xml(x, &o, NULL, NULL), 0);
    free(x);
}

static void test_large_containers_headers(void **state)
{
    size_t cap = 1 << 20;
    char *j = malloc(cap);
    size_t n = (size_t)sprintf(j, "{\"result\":{\"a\":[");
    for (int i = 0; i < 70000; i++)
        n += (size_t)sprintf(j + n, "%s%d", i ? "," : "", i % 100);
    n += (size_t)sprintf(j + n, "],\"m\":{");
    for (int i = 0; i < 20; i++)
        n += (size_t)sprintf(j + n, "%s\"k%d\":%d", i ? "," : "", i, i);
    strcpy(j + n, "}}}");
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(s_json(j, NULL, &out, NULL), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, out.data, out.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, out.size);
    assert_int_equal(u.data.via.map.size, 2);
    assert_int_equal(u.data.via.map.ptr[0].val.via.array.size, 70000);
    assert_int_equal(u.data.via.map.ptr[1].val.via.map.size, 20);
    assert_int_equal((uint8_t)out.data[0], 0x82);          /* fixmap */
    assert_int_equal((uint8_t)out.data[3], 0xdd);          /* array32 */
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&out);
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_success_string),
        cmocka_unit_test(test_xml_failure),
        cmocka_unit_test(test_xml_types),
        cmocka_unit_test(test_xml_pretty_printed),
        cmocka_unit_test(test_xml_bare_list_methods),
        cmocka_unit_test(test_xml_fault_element),
        cmocka_unit_test(test_xml_records_streamed),
        cmocka_unit_test(test_xml_events_streamed),
        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_streamed),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_split_deliveries_same_result),
        cmocka_unit_test(test_truncated_every_prefix),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_wrong_shapes_for_streams),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_stream_memory_bounded),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_large_containers_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
