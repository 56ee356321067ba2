/*  sim_console — a real RFB (VNC) server per VM console (libvncserver), each on its own
    loopback port, whose 800x600 screen shows the VM's name (also its RFB desktop name).
    The /console HTTP handler connects a client to it by HTTP CONNECT (raw RFB after
    "200 OK") or by WebSocket upgrade (libvncserver does the WebSocket handshake and framing:
    the handler replays the upgrade request to it and pumps bytes).                            */
#ifndef SIM_CONSOLE_H
#define SIM_CONSOLE_H

typedef struct sim_console_t sim_console_t;

sim_console_t *sim_console_new(void);
void sim_console_destroy(sim_console_t **self_p);
/*  Port of the RFB server of console uuid (started on first use); -1 on error.              */
int sim_console_port(sim_console_t *self, const char *uuid, const char *title);
/*  Pumps bytes between two sockets until either side closes.                                */
void sim_console_pump(int a, int b);

#endif
