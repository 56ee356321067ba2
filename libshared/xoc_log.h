/*  xoc_log — level-filtered logging, one line per event:
        2026-11-25T19:50:01.123Z xoc-bus[1234] W worker expired service=cache worker=5f2a...
    The macros test the level before formatting, so a disabled level costs one comparison.
    Put the ids involved as key=value pairs (pool=… vm=… req=…) so lines are greppable.      */
#ifndef XOC_LOG_H
#define XOC_LOG_H

#include <stdarg.h>

typedef enum {
    XOC_LOG_ERROR = 0,
    XOC_LOG_WARN = 1,
    XOC_LOG_INFO = 2,
    XOC_LOG_DEBUG = 3,
    XOC_LOG_TRACE = 4,
} xoc_log_level_t;

extern int xoc_log_level_current;

/*  Sets the name printed on every line (the service name) and the level.                     */
void xoc_log_init(const char *name, xoc_log_level_t level);

/*  Parses "error|warn|info|debug|trace"; returns -1 when the name is unknown.                 */
int xoc_log_level_parse(const char *name);

void xoc_log_set_level(xoc_log_level_t level);

void xoc_log_write(xoc_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define XOC_LOG_AT(lvl, ...)                                                                    \
    do {                                                                                         \
        if ((int)(lvl) <= xoc_log_level_current)                                                 \
            xoc_log_write((lvl), __VA_ARGS__);                                                   \
    } while (0)

#define xoc_error(...) XOC_LOG_AT(XOC_LOG_ERROR, __VA_ARGS__)
#define xoc_warn(...)  XOC_LOG_AT(XOC_LOG_WARN, __VA_ARGS__)
#define xoc_info(...)  XOC_LOG_AT(XOC_LOG_INFO, __VA_ARGS__)
#define xoc_debug(...) XOC_LOG_AT(XOC_LOG_DEBUG, __VA_ARGS__)
#define xoc_trace(...) XOC_LOG_AT(XOC_LOG_TRACE, __VA_ARGS__)

#endif
