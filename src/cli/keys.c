/* Terminal handling for the live keys, and the keys carried out through the run
 * controller. Main thread only, except sl_keys_close, which a
 * signal handler may call on its way out. */
#include "cli/keys.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static volatile sig_atomic_t active;
static int saved_flags;

bool sl_keys_foreground(void)
{
    if (!isatty(STDIN_FILENO))
        return false;
    /* A terminal that is not our controlling one (tcgetpgrp fails) has no job control
     * over us: changing it cannot stop us, so it counts as ours. */
    pid_t fg = tcgetpgrp(STDIN_FILENO);
    return fg == -1 || fg == getpgrp();
}

/* Ctrl-\ (SIGQUIT) ends the process at once by default and would leave the terminal
 * without echo: restore it, then die of the signal as asked (with its core dump). */
static void on_quit(int sig)
{
    sl_keys_close();
    raise(sig); /* SA_RESETHAND put the default action back; delivered on return */
}

int sl_keys_open(void)
{
    /* In a background process group (`timeout 15 stormlight ...` from an interactive
     * shell puts it there) changing the terminal stops the process with SIGTTOU before
     * it has printed anything: run without keys instead. */
    if (!sl_keys_foreground() || tcgetattr(STDIN_FILENO, &saved) != 0)
        return -1;
    struct termios raw = saved;
    /* Keys arrive one at a time and are not echoed; Ctrl-C still raises SIGINT. */
    raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0)
        return -1;
    saved_flags = fcntl(STDIN_FILENO, F_GETFL);
    fcntl(STDIN_FILENO, F_SETFL, saved_flags | O_NONBLOCK);
    active = 1;
    atexit(sl_keys_close);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_quit;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, NULL);
    return STDIN_FILENO;
}

void sl_keys_close(void)
{
    if (!active)
        return;
    active = 0;
    /* Put in the background since (Ctrl-Z, bg), restoring would stop the process with
     * SIGTTOU; with SIGTTOU blocked the terminal is restored regardless. Every call here
     * is async-signal-safe. */
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    fcntl(STDIN_FILENO, F_SETFL, saved_flags);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int sl_keys_read(char *buf, int len)
{
    if (!active)
        return 0;
    ssize_t n = read(STDIN_FILENO, buf, (size_t)len);
    return n > 0 ? (int)n : 0;
}

void sl_keys_apply(sl_control_t *ctl)
{
    char keys[64];
    int n = sl_keys_read(keys, (int)sizeof(keys));
    bool open_model = sl_control_open_model(ctl);
    for (int i = 0; i < n; i++) {
        uint32_t u = sl_control_users(ctl);
        double r = sl_control_rate(ctl);
        switch (keys[i]) {
        case 'q':
            sl_control_stop(ctl, SL_STOP_KEY, 0);
            return;
        case 'w':
        case 'W':
            if (!open_model)
                sl_control_set_users(ctl, u + (keys[i] == 'W' ? 10 : 1));
            break;
        case 's':
        case 'S': {
            uint32_t d = keys[i] == 'S' ? 10 : 1;
            if (!open_model)
                sl_control_set_users(ctl, u > d ? u - d : 0);
            break;
        }
        case 'r':
        case 'R':
            sl_control_set_rate(ctl, r * (keys[i] == 'R' ? 1.10 : 1.01));
            break;
        case 'f':
        case 'F':
            sl_control_set_rate(ctl, r * (keys[i] == 'F' ? 0.90 : 0.99));
            break;
        }
    }
}
