/* Signal handlers for a run (see signals.h). Everything a handler calls is
 * async-signal-safe: sl_control_signal, sl_keys_close, write and _exit. */
#include "cli/signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli/keys.h"

static sl_control_t *run_ctl;
static volatile sig_atomic_t resized;

/* SIGWINCH: the live view is redrawn at the new width now rather than at the next frame.
 * Installed with SA_RESTART so that output to the terminal is not cut short by it. */
static void on_resize(int sig)
{
    (void)sig;
    resized = 1;
}

/* First SIGINT/SIGTERM/SIGHUP: stop gracefully. Second: stop waiting for the users'
 * on_stop and write what is known. One more after that: leave at once, with the terminal
 * restored. */
static void on_stop_signal(int sig)
{
    if (run_ctl && sl_control_signal(run_ctl, sig)) {
        sl_keys_close();
        static const char msg[] = "\nstormlight: interrupted again, exiting now\n";
        ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)n;
        _exit(128 + sig);
    }
}

void sl_signals_install(sl_control_t *ctl)
{
    run_ctl = ctl;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed terminal or `kill -HUP` is a stop like any other: the summary and the
     * reports are still written (the default action would lose them). */
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sa.sa_handler = on_resize;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, NULL);
}

void sl_signals_detach(void)
{
    run_ctl = NULL; /* the handler runs on the main thread: no race with this store */
}

bool sl_signals_take_resize(void)
{
    if (!resized)
        return false;
    resized = 0;
    return true;
}
