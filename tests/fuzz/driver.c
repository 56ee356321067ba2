/*  Replays a fuzz target's corpus without libFuzzer, so that every `make check` runs each
    decoder over its corpus and over deterministic mutations of it (bit flips, truncations,
    splices). Usage: <target> <corpus-dir> [mutations-per-file]                              */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t s_rng = 0x9E3779B97F4A7C15ull;

static uint64_t s_next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static uint8_t *s_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n > 0 ? (size_t)n : 0;
    return buf;
}

static void s_mutate_and_run(const uint8_t *data, size_t size, int rounds)
{
    uint8_t *buf = malloc(size + 64);
    for (int r = 0; r < rounds; r++) {
        size_t n = size;
        memcpy(buf, data, size);
        switch (s_next() % 4) {
        case 0: /* flip a few bits */
            for (int k = 0; k < 4 && n; k++)
                buf[s_next() % n] ^= (uint8_t)(1u << (s_next() % 8));
            break;
        case 1: /* truncate */
            n = n ? s_next() % n : 0;
            break;
        case 2: /* overwrite a byte with a boundary value */
            if (n) {
                static const uint8_t special[] = {0x00, 0xff, 0x7f, 0x80, 0xc0, 0xdc, 0xdd, 0xdf};
                buf[s_next() % n] = special[s_next() % sizeof special];
            }
            break;
        default: /* append random bytes */
            for (int k = 0; k < 16; k++)
                buf[n++] = (uint8_t)s_next();
            break;
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <corpus-dir> [mutations-per-file]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 2000;
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        fprintf(stderr, "fuzz-driver: no corpus at %s\n", argv[1]);
        return 1;
    }
    int files = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        size_t size;
        uint8_t *data = s_read_file(path, &size);
        if (!data)
            continue;
        LLVMFuzzerTestOneInput(data, size);
        s_mutate_and_run(data, size, rounds);
        free(data);
        files++;
    }
    closedir(dir);
    if (files == 0) {
        fprintf(stderr, "fuzz-driver: empty corpus %s\n", argv[1]);
        return 1;
    }
    printf("fuzz-driver: %d corpus files, %d mutations each, no crash\n", files, rounds);
    return 0;
}
