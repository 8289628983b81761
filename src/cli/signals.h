/* The process's signals during a run: SIGINT, SIGTERM and SIGHUP stop it through the run
 * controller (the second skips the users' on_stop, a third exits at once with the
 * terminal restored), SIGWINCH asks for a redraw, SIGPIPE is ignored. Main thread. */
#ifndef SL_CLI_SIGNALS_H
#define SL_CLI_SIGNALS_H

#include <stdbool.h>

#include "control/control.h"

/* Installs the handlers; stop signals go to ctl (borrowed until sl_signals_detach). */
void sl_signals_install(sl_control_t *ctl);
/* From now on stop signals are not passed on (ctl is about to be freed). */
void sl_signals_detach(void);
/* Whether the terminal was resized since the last call. */
bool sl_signals_take_resize(void);

#endif
