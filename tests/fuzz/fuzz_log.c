/*
 * fuzz_log.c — the log loader: any bytes as a log segment are replayed into a store (as
 * recovery does, src/persist/recover.c) without crashing, leaking or reading out of bounds,
 * and the verdict is consistent: a segment is either replayed whole, torn at its end, or
 * corrupt; the good prefix it reports replays to the same verdict-free end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mnemo.h"
#include "persist/logfmt.h"
#include "persist/persist.h"

static mnemo_store *st;

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
    uint64_t first = 1;
    if (size >= LOG_FILE_HDR && logfmt_parse_file_header(data, size, &first) != 0)
        first = 1;
    size_t good = 0;
    uint64_t last = 0;
    int r = persist_replay_mem(st, data, size, first, 1700000000000, &good, &last);
    if (r != LREC_END && r != LREC_TORN && r != LREC_CORRUPT)
        abort();
    if (good > size || last + 1 < first)
        abort();
    if (good >= LOG_FILE_HDR) {
        /* The good prefix alone is a complete, valid segment with the same last LSN. */
        mnemo_flush_all(st);
        size_t g2;
        uint64_t l2;
        if (persist_replay_mem(st, data, good, first, 1700000000000, &g2, &l2) != LREC_END ||
            g2 != good || l2 != last)
            abort();
    }
    return 0;
}
