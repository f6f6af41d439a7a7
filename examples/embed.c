/* The README's embedding example: a cache inside your own process. */
#include <mnemo.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.default_ttl_ms = 60 * 1000; /* entries live a minute unless told otherwise */

    mnemo_store *store;
    int rc = mnemo_store_open(&cfg, &store);
    if (rc != MNEMO_OK) {
        fprintf(stderr, "open: %s\n", mnemo_strerror(rc));
        return 1;
    }

    const char *key = "user:42";
    uint64_t version;
    mnemo_set(store, 0, key, strlen(key), "{\"name\":\"Ada\"}", 14, NULL, NULL, &version);

    mnemo_value v;
    if (mnemo_get(store, 0, key, strlen(key), &v) == MNEMO_OK) {
        printf("%s = %.*s (version %llu)\n", key, (int)v.len, (char *)v.data,
               (unsigned long long)v.version);
        mnemo_value_release(&v);
    }

    /* Compare-and-set: only succeeds if nobody wrote the key since we read `version`. */
    mnemo_set_opts cas = {.flags = MNEMO_SET_IF_VERSION, .version = version};
    rc = mnemo_set(store, 0, key, strlen(key), "{\"name\":\"Ada L.\"}", 17, &cas, NULL, NULL);
    printf("cas: %s\n", mnemo_strerror(rc));
    rc = mnemo_set(store, 0, key, strlen(key), "stale", 5, &cas, NULL, NULL);
    printf("cas again: %s\n", mnemo_strerror(rc)); /* version mismatch */

    int64_t hits;
    mnemo_incr(store, 0, "hits", 4, 1, &hits);
    printf("hits = %lld\n", (long long)hits);

    mnemo_stats st;
    mnemo_store_stats(store, &st);
    printf("%llu keys, %llu bytes\n", (unsigned long long)st.keys,
           (unsigned long long)st.memory_used);

    mnemo_store_free(store); /* closes it too */
    return rc == MNEMO_EVERSION ? 0 : 1;
}
