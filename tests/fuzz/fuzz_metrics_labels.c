/* Fuzz target: label values from the network in the metrics registry (xoc_metrics). The
   input, split at its first NUL byte, gives two label values (and the help text). Whatever
   the bytes, the exposition must be valid UTF-8, one sample per line, every label value
   quoted with only \\, \" and \n escapes, and the same values must find the same series. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF) */
static int s_utf8_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t len = c < 0x80                   ? 1
                     : (c >= 0xc2 && c <= 0xdf) ? 2
                     : (c & 0xf0) == 0xe0       ? 3
                     : (c >= 0xf0 && c <= 0xf4) ? 4
                                                : 0;
        if (!len || i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
        if ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0) ||
            (c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90))
            return 0;
        i += len;
    }
    return 1;
}

/* checks one quoted value starting after the opening quote; returns the end (after the
   closing quote) or NULL */
static const char *s_quoted(const char *p)
{
    for (; *p && *p != '\n'; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\' && p[1] != '\\' && p[1] != '"' && p[1] != 'n')
            return NULL;
        if (*p == '\\')
            p++;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *a = malloc(size + 1), *b;
    memcpy(a, data, size);
    a[size] = '\0';
    size_t alen = strlen(a);
    b = alen < size ? a + alen + 1 : a + alen;
    xoc_metrics_t *reg = xoc_metrics_new();
    xoc_metrics_family_t *f =
        xoc_metrics_family(reg, XOC_METRICS_COUNTER, "xoc_fuzz_total", b, "a,b", NULL, 0);
    xoc_metrics_series_t *s1 = xoc_metrics_with(f, a, b);
    xoc_metrics_series_t *s2 = xoc_metrics_with(f, a, b);
    if (!s1 || s1 != s2)
        abort();
    xoc_metrics_inc(s1);
    xoc_metrics_inc(s2);
    if (xoc_metrics_get(s1) != 2)
        abort();
    size_t len = 0;
    char *text = xoc_metrics_render(reg, &len);
    if (!text || !s_utf8_ok((const unsigned char *)text, len))
        abort();
    /* # HELP line, # TYPE line, one sample line: exactly three lines */
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (lines != 3)
        abort();
    const char *sample = strstr(text, "\nxoc_fuzz_total{a=\"");
    if (!sample)
        abort();
    const char *p = s_quoted(sample + strlen("\nxoc_fuzz_total{a=\""));
    if (!p || strncmp(p, ",b=\"", 4) != 0 || !(p = s_quoted(p + 4)) || strcmp(p, "} 2\n") != 0)
        abort();
    free(text);
    xoc_metrics_destroy(&reg);
    free(a);
    return 0;
}
