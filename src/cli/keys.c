/* Terminal handling for the live keys. Main thread only. */
#include "cli/keys.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static bool active;
static int saved_flags;

int sl_keys_open(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) != 0)
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
    active = true;
    atexit(sl_keys_close);
    return STDIN_FILENO;
}

void sl_keys_close(void)
{
    if (!active)
        return;
    active = false;
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    fcntl(STDIN_FILENO, F_SETFL, saved_flags);
}

int sl_keys_read(char *buf, int len)
{
    if (!active)
        return 0;
    ssize_t n = read(STDIN_FILENO, buf, (size_t)len);
    return n > 0 ? (int)n : 0;
}
