/* `stormlight new [FILE]`: a commented starter scenario, as `k6 new` writes one. */
#include "cli/new.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Runs as written against the project's target (tests/target/sl_target.c: /login gives
 * a token, every other path {"ok":true}); tests/e2e/test_install.py checks that. */
static const char starter[] =
    "-- A stormlight scenario: what virtual users do, written in Lua (docs/scenario.md).\n"
    "-- Run it:   stormlight -f stormlight_file.lua -H http://127.0.0.1:8000 -u 10 -r 2 -t 30s\n"
    "-- List it:  stormlight -f stormlight_file.lua --list\n"
    "\n"
    "-- The host to load when -H is not given.\n"
    "host = \"http://127.0.0.1:8000\"\n"
    "\n"
    "-- Static requests: rendered to bytes once, picked at random by weight by users that have\n"
    "-- no class of their own, and by the class below through its tasks list.\n"
    "endpoints = {\n"
    "  Task{\"GET\", \"/hello\", headers = {[\"Content-Type\"] = \"application/json\"}},\n"
    "  Task{\"POST\", \"/api/upload\", data = {name = \"test\", price = 10},\n"
    "       headers = {[\"Content-Type\"] = \"application/json\"}},\n"
    "}\n"
    "\n"
    "-- A scripted user, as in Locust: it logs in once, keeps its token and runs tasks with a\n"
    "-- pause between them. Each virtual user is a coroutine with its own state on `u`.\n"
    "User{\n"
    "  name = \"shopper\",\n"
    "  wait = between(0.5, 1.5),          -- seconds between iterations\n"
    "  on_start = function(u)\n"
    "    local r = u:post(\"/login\", {json = {user = \"demo\", password = \"demo\"}})\n"
    "    if not r.ok then\n"
    "      r:failure(\"login failed: HTTP \" .. r.status)\n"
    "    end\n"
    "    u.token = r.ok and r:json().token or nil\n"
    "  end,\n"
    "  tasks = {\n"
    "    Task{\"GET\", \"/hello\", weight = 3},     -- a static request inside a class\n"
    "    {weight = 1, name = \"upload\", function(u)\n"
    "      local r = u:post(\"/api/upload\", {\n"
    "        json = {name = \"test\", price = 10},\n"
    "        headers = {Authorization = \"Bearer \" .. (u.token or \"\")},\n"
    "      })\n"
    "      -- Anything that is not what you expect can be a failure of its own.\n"
    "      if r.status == 200 and not r:json().ok then\n"
    "        r:failure(\"upload not ok\")\n"
    "      end\n"
    "    end},\n"
    "  },\n"
    "}\n";

int sl_cli_new(int argc, char **argv, FILE *out, sl_err_t *err)
{
    if (argc > 1) {
        sl_err_set(err, "new: one file name at most, got '%s' after '%s'", argv[1], argv[0]);
        return SL_EINVAL;
    }
    if (argc == 1 && argv[0][0] == '-') {
        sl_err_set(err, "new: usage: stormlight new [FILE] (default: stormlight_file.lua)");
        return SL_EINVAL;
    }
    const char *path = argc == 1 ? argv[0] : "stormlight_file.lua";
    /* O_EXCL: an existing file is never overwritten, not even by a race. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            sl_err_set(err, "new: '%s' exists; not overwritten (give another name)", path);
        else
            sl_err_set(err, "new: cannot create '%s': %s", path, strerror(errno));
        return SL_ESYS;
    }
    size_t len = sizeof(starter) - 1, done = 0;
    while (done < len) {
        ssize_t n = write(fd, starter + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sl_err_set(err, "new: cannot write '%s': %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return SL_ESYS;
        }
        done += (size_t)n;
    }
    if (close(fd) != 0) {
        sl_err_set(err, "new: cannot write '%s': %s", path, strerror(errno));
        unlink(path);
        return SL_ESYS;
    }
    fprintf(out,
            "wrote %s: two endpoints and a User{} class that logs in. Run it with\n"
            "  stormlight -f %s -H http://127.0.0.1:8000 -u 10 -r 2 -t 30s\n",
            path, path);
    return SL_OK;
}
