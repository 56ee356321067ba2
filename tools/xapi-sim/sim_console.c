#include "sim_console.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <rfb/rfb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xoc_log.h"

#define S_W 800
#define S_H 600

struct sim_console_t {
    pthread_mutex_t mutex;
    zhashx_t *screens; /* uuid -> rfbScreenInfoPtr */
};

/*  A 5x7 font: digits, letters (one case), - _ . : and space; each row 5 bits.             */
static const char s_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz-_.: ";
static const unsigned char s_glyphs[][7] = {
    {14, 17, 19, 21, 25, 17, 14}, {4, 12, 4, 4, 4, 4, 14},      {14, 17, 1, 2, 4, 8, 31},
    {31, 2, 4, 2, 1, 17, 14},     {2, 6, 10, 18, 31, 2, 2},     {31, 16, 30, 1, 1, 17, 14},
    {6, 8, 16, 30, 17, 17, 14},   {31, 1, 2, 4, 8, 8, 8},       {14, 17, 17, 14, 17, 17, 14},
    {14, 17, 17, 15, 1, 2, 12},   {14, 17, 17, 31, 17, 17, 17}, {30, 17, 17, 30, 17, 17, 30},
    {14, 17, 16, 16, 16, 17, 14}, {28, 18, 17, 17, 17, 18, 28}, {31, 16, 16, 30, 16, 16, 31},
    {31, 16, 16, 30, 16, 16, 16}, {14, 17, 16, 23, 17, 17, 15}, {17, 17, 17, 31, 17, 17, 17},
    {14, 4, 4, 4, 4, 4, 14},      {7, 2, 2, 2, 2, 18, 12},      {17, 18, 20, 24, 20, 18, 17},
    {16, 16, 16, 16, 16, 16, 31}, {17, 27, 21, 21, 17, 17, 17}, {17, 17, 25, 21, 19, 17, 17},
    {14, 17, 17, 17, 17, 17, 14}, {30, 17, 17, 30, 16, 16, 16}, {14, 17, 17, 17, 21, 18, 13},
    {30, 17, 17, 30, 20, 18, 17}, {15, 16, 16, 14, 1, 1, 30},   {31, 4, 4, 4, 4, 4, 4},
    {17, 17, 17, 17, 17, 17, 14}, {17, 17, 17, 17, 17, 10, 4},  {17, 17, 17, 21, 21, 21, 10},
    {17, 17, 10, 4, 10, 17, 17},  {17, 17, 17, 10, 4, 4, 4},    {31, 1, 2, 4, 8, 16, 31},
    {0, 0, 0, 31, 0, 0, 0},       {0, 0, 0, 0, 0, 0, 31},       {0, 0, 0, 0, 0, 12, 12},
    {0, 12, 12, 0, 12, 12, 0},    {0, 0, 0, 0, 0, 0, 0},
};

static void s_draw_text(uint32_t *fb, int x0, int y0, int scale, const char *text, uint32_t px)
{
    for (int i = 0; text[i]; i++) {
        int c = text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i];
        const char *at = strchr(s_chars, c);
        static const unsigned char box[7] = {31, 17, 17, 17, 17, 17, 31};
        const unsigned char *g = at && c ? s_glyphs[at - s_chars] : box;
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++) {
                if (!(g[row] & (16 >> col)))
                    continue;
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++) {
                        int x = x0 + (i * 6 + col) * scale + dx, y = y0 + row * scale + dy;
                        if (x >= 0 && x < S_W && y >= 0 && y < S_H)
                            fb[y * S_W + x] = px;
                    }
            }
    }
}

static int s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void s_screen_free(void **item)
{
    rfbScreenInfoPtr s = *item;
    if (s) {
        rfbShutdownServer(s, TRUE);
        free(s->frameBuffer);
        free((char *)s->desktopName);
        rfbScreenCleanup(s);
    }
    *item = NULL;
}

sim_console_t *sim_console_new(void)
{
    sim_console_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->mutex, NULL);
    self->screens = zhashx_new();
    zhashx_set_destructor(self->screens, s_screen_free);
    rfbLogEnable(xoc_log_level_current >= XOC_LOG_DEBUG);
    return self;
}

void sim_console_destroy(sim_console_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_console_t *self = *self_p;
    zhashx_destroy(&self->screens);
    pthread_mutex_destroy(&self->mutex);
    free(self);
    *self_p = NULL;
}

static rfbScreenInfoPtr s_start(const char *title)
{
    int argc = 0;
    rfbScreenInfoPtr s = rfbGetScreen(&argc, NULL, S_W, S_H, 8, 3, 4);
    if (!s)
        return NULL;
    uint32_t *fb = calloc((size_t)S_W * S_H, 4);
    for (int i = 0; i < S_W * S_H; i++)
        fb[i] = 0x00402010; /* dark blue (0x00BBGGRR in this pixel format) */
    s_draw_text(fb, 40, 40, 4, title, 0x00ffffff);
    s_draw_text(fb, 40, 100, 2, "xapi-sim console", 0x0080c0c0);
    s->frameBuffer = (char *)fb;
    s->desktopName = strdup(title);
    s->alwaysShared = TRUE;
    s->autoPort = FALSE;
    s->port = s_free_port();
    s->ipv6port = 0;
    s->listenInterface = htonl(INADDR_LOOPBACK);
    rfbInitServer(s);
    if (s->listenSock < 0) {
        free(fb);
        free((char *)s->desktopName);
        rfbScreenCleanup(s);
        return NULL;
    }
    rfbRunEventLoop(s, 20000, TRUE);
    return s;
}

int sim_console_port(sim_console_t *self, const char *uuid, const char *title)
{
    if (!self)
        return -1; /* shutting down */
    pthread_mutex_lock(&self->mutex);
    rfbScreenInfoPtr s = zhashx_lookup(self->screens, uuid);
    if (!s && (s = s_start(title)))
        zhashx_insert(self->screens, uuid, s);
    int port = s ? s->port : -1;
    pthread_mutex_unlock(&self->mutex);
    return port;
}

void sim_console_pump(int a, int b)
{
    char buf[65536];
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, 600000) <= 0)
            return;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0)
                return;
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(p[1 - i].fd, buf + off, (size_t)(n - off));
                if (w <= 0)
                    return;
                off += w;
            }
        }
    }
}
