/*
 * mnemo-check — checks (and with --fix repairs) a persistence directory without starting a
 * store: the manifest, the snapshot and every log segment, record by record.
 *
 *   mnemo-check [--fix] [--name appendonly.aof] <directory>
 *
 * For mnemo-server the directory is <dir>/<appenddirname> (by default ./appendonlydir).
 * Exit status: 0 all good (or repaired), 1 a torn tail (start-up would cut it off),
 * 2 corruption (start-up refuses), 3 the check could not run.
 */
#include <stdio.h>
#include <string.h>

#include "mnemo.h"

static void print(void *ctx, int level, const char *msg)
{
    (void)ctx;
    fprintf(level >= MNEMO_LOG_WARNING ? stderr : stdout, "%s\n", msg);
}

static int usage(void)
{
    fprintf(stderr, "usage: mnemo-check [--fix] [--name <appendfilename>] <directory>\n");
    return 3;
}

int main(int argc, char **argv)
{
    int fix = 0;
    const char *dir = NULL, *name = "appendonly.aof";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fix") == 0)
            fix = 1;
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (argv[i][0] == '-' || dir)
            return usage();
        else
            dir = argv[i];
    }
    if (!dir)
        return usage();
    mnemo_persist_config pc;
    mnemo_persist_config_init(&pc);
    pc.dir = dir;
    pc.name = name;
    pc.log = print;
    int summary = 0;
    int rc = mnemo_persist_check(&pc, fix, &summary);
    if (rc != MNEMO_OK) {
        fprintf(stderr, "mnemo-check: %s\n", mnemo_strerror(rc));
        return 3;
    }
    printf("%s\n", summary == 0 ? "OK" : summary == 1 ? "TORN TAIL (start-up truncates it)"
                                                      : "CORRUPT (start-up refuses)");
    return summary;
}
