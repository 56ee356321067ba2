/*  xoc-proto-doc — prints the message tables of proto/README.md from the definitions in
    xoc_msg_defs.h, so the spec cannot drift from the code. With --check FILE it compares the
    part of FILE between the markers and exits 1 when it differs (a ctest does that).       */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_msg.h"

#define S_BEGIN "<!-- BEGIN GENERATED MESSAGES (xoc-proto-doc) -->\n"
#define S_END "<!-- END GENERATED MESSAGES -->\n"

static const char *s_type_names[] = {"str", "bin", "uint", "int", "float", "bool", "msgpack"};

static size_t s_render(char *out, size_t size)
{
    size_t n = 0;
#define S_PUT(...) n += (size_t)snprintf(out + n, n < size ? size - n : 0, __VA_ARGS__)
    for (int t = XOC_MSG_NONE + 1; t < XOC_MSG_COUNT; t++) {
        S_PUT("\n### `%s` — %s\n\n", xoc_msg_type_name(t), xoc_msg_type_doc(t));
        S_PUT("| field | type | required | meaning |\n|---|---|---|---|\n");
        size_t count;
        const xoc_msg_field_t *f = xoc_msg_fields(t, &count);
        for (size_t i = 0; i < count; i++)
            S_PUT("| `%s` | %s | %s | %s |\n", f[i].name, s_type_names[f[i].type],
                  f[i].required ? "yes" : "no", f[i].doc);
    }
    S_PUT("\n### Error codes\n\n| code | name | JSON-RPC code | message |\n|---|---|---|---|\n");
#define S_ERR_ROW(e, v, name, rpc, msg) S_PUT("| %d | `%s` | %d | %s |\n", v, name, rpc, msg);
    XOC_ERR_TABLE(S_ERR_ROW)
#undef S_ERR_ROW
    S_PUT("\n");
#undef S_PUT
    return n;
}

int main(int argc, char **argv)
{
    static char doc[1 << 16];
    size_t n = s_render(doc, sizeof doc);
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        FILE *f = fopen(argv[2], "r");
        static char file[1 << 20];
        size_t len = f ? fread(file, 1, sizeof file - 1, f) : 0;
        if (f)
            fclose(f);
        file[len] = '\0';
        char *b = strstr(file, S_BEGIN), *e = b ? strstr(b, S_END) : NULL;
        if (!b || !e) {
            fprintf(stderr, "%s: generated-section markers not found\n", argv[2]);
            return 1;
        }
        b += strlen(S_BEGIN);
        if ((size_t)(e - b) != n || memcmp(b, doc, n) != 0) {
            fprintf(stderr, "%s is out of date: regenerate the message tables with "
                            "xoc-proto-doc (see proto/README.md)\n", argv[2]);
            return 1;
        }
        printf("proto README message tables are up to date\n");
        return 0;
    }
    printf("%s%s%s", S_BEGIN, doc, S_END);
    return 0;
}
