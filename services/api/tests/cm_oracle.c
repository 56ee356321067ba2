/*  The C side of the complex-matcher differential test (cm_oracle.mjs): reads lines
    `<filter as a JSON string>\t<object as JSON>` on stdin and prints, per line, 1 or 0
    (xoc_api_cm_match_mp's answer) or E (the filter does not parse).                      */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_api_cm.h"
#include "xoc_json.h"

static char s_answer(const char *line)
{
    const char *tab = strchr(line, '\t');
    if (!tab)
        return '?';
    json_t *filter = json_loadb(line, (size_t)(tab - line), JSON_DECODE_ANY, NULL);
    json_t *object = json_loads(tab + 1, JSON_DECODE_ANY, NULL);
    char answer = '?', err[256];
    xoc_api_cm_t *cm = NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (json_is_string(filter) && object && xoc_json_to_mp(object, &sb) == 0) {
        cm = xoc_api_cm_parse(json_string_value(filter), json_string_length(filter), err,
                              sizeof err);
        answer = 'E';
    }
    if (cm) {
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS)
            answer = xoc_api_cm_match_mp(cm, &up.data) ? '1' : '0';
        msgpack_unpacked_destroy(&up);
        xoc_api_cm_destroy(&cm);
    }
    msgpack_sbuffer_destroy(&sb);
    json_decref(filter);
    json_decref(object);
    return answer;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        printf("%c\n", s_answer(line));
    }
    free(line);
    return 0;
}
