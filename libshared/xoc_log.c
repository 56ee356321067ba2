#include "xoc_log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int xoc_log_level_current = XOC_LOG_INFO;
static char s_name[64] = "xoc";
static const char s_letters[] = "EWIDT";

void xoc_log_init(const char *name, xoc_log_level_t level)
{
    if (name)
        snprintf(s_name, sizeof s_name, "%s", name);
    xoc_log_level_current = level;
}

void xoc_log_set_level(xoc_log_level_t level)
{
    xoc_log_level_current = level;
}

int xoc_log_level_parse(const char *name)
{
    static const char *names[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; name && i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void xoc_log_write(xoc_log_level_t level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %c ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)tv.tv_usec / 1000, s_name, (int)getpid(),
                     s_letters[level < 5 ? level : 4]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* one write(2) per line: lines of concurrent threads/processes never interleave */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
