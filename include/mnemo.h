/*
 * mnemo.h — the public API of libmnemo, an embeddable, thread-safe in-memory key-value store.
 *
 * A store (mnemo_store) holds `databases` numbered keyspaces (0..N-1, like Redis's SELECT).
 * Keys and values are binary-safe byte strings; the empty key is allowed (as in Redis). Every
 * entry carries:
 *   - a 64-bit version from a hybrid logical clock (HLC): upper 48 bits are Unix time in
 *     milliseconds, lower 16 bits a logical counter. Every write to a key gets a version
 *     strictly greater than every version that key held before (also after a delete), so
 *     versions order the writes of one key and serve compare-and-set (MNEMO_SET_IF_VERSION,
 *     mnemo_del_if_version). Versions of different keys are not ordered and may be equal (each
 *     shard keeps its own clock; docs/design.md "Versions");
 *   - an optional absolute expiration time in Unix milliseconds. Expired keys are never returned:
 *     they are deleted lazily when touched and actively by a background cycle within about a
 *     second of their deadline.
 *
 * Conventions, for every function below unless it says otherwise:
 *   - Thread-safe: any function may be called from any thread at any time on an open store.
 *     Single-key calls lock one shard; batch calls lock every shard they touch, in ascending
 *     order, so each batch is atomic (no reader sees half of it).
 *   - The result is a mnemo_status: MNEMO_OK (0) or a negative error. Values come back through
 *     out-parameters, which are written only on MNEMO_OK unless documented otherwise.
 *   - `db` out of range: MNEMO_EDB. Key longer than max_key_size: MNEMO_ETOOBIG. A call on a
 *     closed store: MNEMO_ECLOSED. A failed allocation: MNEMO_ENOMEM, with the store unchanged.
 *     These are not repeated in each comment.
 *   - Values may be stored compressed (mnemo_config.compression); that is invisible to callers,
 *     except that a call that reads such a value returns MNEMO_ECORRUPT if its stored bytes
 *     were damaged (only a memory error can do that): nothing is returned from them and the
 *     store is left as it was. Not repeated in each comment either.
 *   - Pointers passed in are only read during the call; the library keeps no reference to them.
 *   - Memory the library returns (mnemo_value.data, key lists) is malloc()ed and owned by the
 *     caller, who frees it with mnemo_value_release() / free(); it never aliases store memory.
 */
#ifndef MNEMO_H
#define MNEMO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MNEMO_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------------------------------------
 * Status codes. One table generates the enum and mnemo_strerror().
 * ------------------------------------------------------------------------------------------- */
#define MNEMO_STATUS_MAP(X)                                                                   \
    X(OK, 0, "ok")                                                                            \
    X(ENOTFOUND, -1, "key not found")                                                         \
    X(EEXISTS, -2, "key exists")                                                              \
    X(EVERSION, -3, "version mismatch")                                                       \
    X(ENOMEM, -4, "out of memory")                                                            \
    X(ETOOBIG, -5, "key or value too large")                                                  \
    X(EINVAL, -6, "invalid argument")                                                         \
    X(ECLOSED, -7, "store is closed")                                                         \
    X(EDB, -8, "database index out of range")                                                 \
    X(ENOTINT, -9, "value is not an integer or out of range")                                 \
    X(ENOTFLOAT, -10, "value is not a valid float")                                           \
    X(EOVERFLOW, -11, "increment or decrement would overflow")                                \
    X(ETTL, -12, "invalid expire time")                                                       \
    X(ECOND, -13, "condition not met")                                                        \
    X(EWRONGTYPE, -14, "operation against a key holding the wrong kind of value")             \
    X(ENOSPACE, -15, "memory limit reached")                                                  \
    X(ETXN, -16, "key not declared in the running transaction")                               \
    X(ENOTFINITE, -17, "increment would produce NaN or Infinity")                            \
    X(ECORRUPT, -18, "data is corrupt (a stored value or a persistence file)")                   \
    X(EIO, -19, "I/O error in the persistence files")                                         \
    X(EBUSY, -20, "busy: a snapshot is running or the directory is in use")

typedef enum mnemo_status {
#define MNEMO_X_(name, code, text) MNEMO_##name = (code),
    MNEMO_STATUS_MAP(MNEMO_X_)
#undef MNEMO_X_
} mnemo_status;

/* A static, human-readable text for `status` ("unknown status" for values not in the table).
 * Thread-safe; the string lives for the whole program. */
const char *mnemo_strerror(int status);

/* ---------------------------------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------------------------------- */

/* Events reported to the hook. */
typedef enum mnemo_event {
    MNEMO_EVENT_SET = 1 << 0,    /* a key was written (set, incr, append, setrange, ...) */
    MNEMO_EVENT_DEL = 1 << 1,    /* a key was deleted by a caller (del, getdel, flush, ...) */
    MNEMO_EVENT_EXPIRE = 1 << 2, /* a key's TTL ran out and it was removed */
    MNEMO_EVENT_EVICT = 1 << 3,  /* a key was evicted to stay under the memory ceiling */
} mnemo_event;

/*
 * The hook: called once per affected key, synchronously, on the thread that performs the change
 * (the caller's thread, or the store's background thread for active expiry), while that key's
 * shard lock is held. So events for one key arrive in the order the changes happened.
 * The hook must be quick and must not call back into the same store (it would deadlock); it may
 * copy what it needs and hand it to another thread. `key` is valid only during the call.
 * `version` is the entry's version after a set, and the removed entry's version otherwise.
 */
typedef void (*mnemo_hook_fn)(void *ctx, mnemo_event event, unsigned db, const void *key,
                              size_t key_len, uint64_t version);

/* What is evicted when the store is above its memory ceiling (Redis's maxmemory-policy names,
 * mnemo_policy_name()). allkeys-* consider every key, volatile-* only keys with a TTL. mnemo's
 * lru and lfu are approximations over its segment log, as Redis's are over samples: lru is
 * CLOCK (second chance), lfu a 2-bit frequency with aging; s3fifo is S3-FIFO (Yang et al.,
 * SOSP 2023). docs/design.md, "Eviction", says how each works. */
typedef enum mnemo_policy {
    MNEMO_POLICY_NOEVICTION = 0, /* writes that need memory fail with MNEMO_ENOSPACE */
    MNEMO_POLICY_ALLKEYS_LRU,
    MNEMO_POLICY_ALLKEYS_LFU,
    MNEMO_POLICY_ALLKEYS_RANDOM,
    MNEMO_POLICY_ALLKEYS_S3FIFO,
    MNEMO_POLICY_VOLATILE_LRU,
    MNEMO_POLICY_VOLATILE_LFU,
    MNEMO_POLICY_VOLATILE_RANDOM,
    MNEMO_POLICY_VOLATILE_TTL,
    MNEMO_POLICY_VOLATILE_S3FIFO,
    MNEMO_POLICY_COUNT_
} mnemo_policy;

/* "noeviction", "allkeys-lru", ... for a policy; NULL if out of range. */
const char *mnemo_policy_name(int policy);

/* The policy named by name[0..len) (case-insensitive), or -1. */
int mnemo_policy_parse(const char *name, size_t len);

/* A clock returning Unix time in milliseconds; used for TTLs and versions. Tests replace it. */
typedef int64_t (*mnemo_clock_fn)(void *ctx);

/* Levels of the messages persistence reports through mnemo_persist_config.log. */
enum { MNEMO_LOG_DEBUG = 0, MNEMO_LOG_VERBOSE = 1, MNEMO_LOG_NOTICE = 2, MNEMO_LOG_WARNING = 3 };
typedef void (*mnemo_log_fn)(void *ctx, int level, const char *msg);

/* Called each time the durable LSN advances (see mnemo_log_lsn), on the thread that synced:
 * the log thread, or a caller of mnemo_log_sync() / mnemo_log_wait(). Must be quick and must
 * not call into the store. */
typedef void (*mnemo_durable_fn)(void *ctx, uint64_t durable_lsn);

/* Reports the progress of loading a persistence directory at open: bytes of the snapshot and
 * log files processed so far, out of their total. Called from the loading threads (possibly
 * several at once) about every MiB and once at the end: must be quick and thread-safe, and
 * must not call into the store (which is not handed out yet). */
typedef void (*mnemo_load_fn)(void *ctx, uint64_t loaded_bytes, uint64_t total_bytes);

/* When the log is synced to stable storage (Redis's appendfsync). */
typedef enum mnemo_fsync {
    MNEMO_FSYNC_NO = 0,       /* written to the kernel at commit; the kernel syncs when it likes */
    MNEMO_FSYNC_EVERYSEC = 1, /* written at commit, fdatasync once a second */
    MNEMO_FSYNC_ALWAYS = 2,   /* a commit returns once its change is on stable storage */
} mnemo_fsync;

/* What persistence keeps (Redis's appendonly yes / no with a save schedule). */
typedef enum mnemo_persist_mode {
    MNEMO_PERSIST_LOG = 0,       /* snapshots and a log of every change: a restart loses nothing
                                    acknowledged (as the fsync policy says) */
    MNEMO_PERSIST_SNAPSHOTS = 1, /* snapshots only: writes cost nothing more than in memory; a
                                    restart loads the last snapshot, losing later changes */
} mnemo_persist_mode;

/*
 * Persistence settings (docs/persistence.md). A store opened with mnemo_config.persist != NULL
 * loads the state found in `dir` (the snapshot and any log after it, whichever mode wrote
 * them), and from then on appends every change to the log (MNEMO_PERSIST_LOG) or only takes
 * snapshots when asked (MNEMO_PERSIST_SNAPSHOTS). The files in `dir` are the store's own: one
 * store per directory (a lock file enforces it).
 */
typedef struct mnemo_persist_config {
    const char *dir;            /* directory of the files; created if missing. Required. */
    mnemo_persist_mode mode;    /* default MNEMO_PERSIST_LOG; mnemo_persist_set_mode() changes it */
    const char *name;           /* base name of the files; default "appendonly.aof" */
    mnemo_fsync fsync;          /* default MNEMO_FSYNC_EVERYSEC */
    int async_commit;           /* 0 (default): every write call commits before it returns
                                   (waits for the fsync under ALWAYS, writes to the kernel
                                   otherwise). 1: calls return at once and the caller commits
                                   with mnemo_log_flush() / mnemo_log_wait() (the server does,
                                   to answer many clients per fsync without blocking) */
    unsigned rewrite_percentage; /* snapshot + new log when the log exceeds this percentage of
                                   the last snapshot's size (0: never); default 100 */
    uint64_t rewrite_min_size;  /* ... and is at least this big; default 64 MiB */
    unsigned load_threads;      /* threads loading a snapshot; 0 (default): the CPUs */
    mnemo_load_fn load_progress; /* NULL (default): none */
    void *load_progress_ctx;
    unsigned load_key_delay_us; /* testing only (0, the default, in production): each key or
                                   log record loaded at open sleeps this long, to make a load
                                   slow enough to observe (Redis's key-load-delay) */
    mnemo_durable_fn on_durable;
    void *on_durable_ctx;
    mnemo_log_fn log;           /* NULL: persistence reports nothing */
    void *log_ctx;
} mnemo_persist_config;

/* Fills `pc` with the defaults above (dir NULL). Thread-safe. */
void mnemo_persist_config_init(mnemo_persist_config *pc);

typedef struct mnemo_config {
    unsigned databases;      /* number of databases; default 16; 1..1024 */
    unsigned shards;         /* shards per database, rounded up to a power of two; default 256;
                                1..65536 */
    size_t max_key_size;     /* default 512 MiB (as Redis) */
    size_t max_value_size;   /* default 512 MiB (as Redis's proto-max-bulk-len) */
    int64_t default_ttl_ms;  /* TTL given to keys created or set by a write that names none
                                (set, mset, and incr/append/setrange creating a key);
                                0 (default) = no expiry */
    int64_t min_ttl_ms;      /* smaller positive TTLs are MNEMO_ETTL; default 0 = no minimum */
    int64_t max_ttl_ms;      /* larger TTLs are MNEMO_ETTL; default 0 = no maximum */
    int background_thread;   /* 1 (default): a thread runs active expiry; 0: the embedder calls
                                mnemo_store_maintain() */
    unsigned hz;             /* background cycles per second; default 10; 1..500 */
    mnemo_hook_fn hook;      /* NULL (default): no hook */
    void *hook_ctx;
    unsigned hook_events;    /* bitwise OR of mnemo_event; default 0 = none */
    mnemo_clock_fn clock;    /* NULL (default): CLOCK_REALTIME */
    void *clock_ctx;
    uint64_t maxmemory;      /* memory ceiling in bytes (memory_used of mnemo_stats); 0 = none.
                                Default: a quarter of the machine's physical memory */
    int eviction_policy;     /* mnemo_policy; default MNEMO_POLICY_ALLKEYS_S3FIFO */
    unsigned evict_high_pct; /* eviction starts above this % of maxmemory; default 90 */
    unsigned evict_low_pct;  /* ... and goes down to this %; default 80; 1 <= low <= high <= 100 */
    int compression;         /* 1 (default): values of at least compress_min bytes are stored
                                LZ4-compressed when that makes them at least 1/8 smaller;
                                transparent to every call (values always come back as they
                                were written). 0: values are stored as they are. Can be
                                changed later with mnemo_store_set_compression() */
    size_t compress_min;     /* smallest value length that is compressed; default 64; >= 1 */
    const mnemo_persist_config *persist; /* NULL (default): in memory only; copied at open */
} mnemo_config;

/* Fills `cfg` with the defaults documented above. Thread-safe. */
void mnemo_config_init(mnemo_config *cfg);


/* ---------------------------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------------------------- */
typedef struct mnemo_store mnemo_store;

/*
 * Opens a new, empty store. `cfg` may be NULL for the defaults; it is copied.
 * On MNEMO_OK, *out is a handle the caller releases with mnemo_store_free().
 * Errors: MNEMO_EINVAL (a setting out of range; max_key_size + max_value_size above 2 GiB;
 * min_ttl_ms > max_ttl_ms; default_ttl_ms outside them), MNEMO_ENOMEM.
 */
int mnemo_store_open(const mnemo_config *cfg, mnemo_store **out);

/*
 * Closes the store: stops the background thread and releases every key. Idempotent. The handle
 * stays valid: later calls on it return MNEMO_ECLOSED. Calls running concurrently with close
 * finish either before it (normally) or with MNEMO_ECLOSED. Returns MNEMO_OK, or MNEMO_ECLOSED
 * if it was already closed. NULL is accepted and ignored (MNEMO_EINVAL).
 */
int mnemo_store_close(mnemo_store *store);

/*
 * With persistence (cfg->persist), mnemo_store_open() also loads the directory's state: the
 * snapshot named by the manifest, then the log after it; keys whose expiration passed while the
 * store was closed are dropped. A record torn at the end of the log (a crash in the middle of
 * writing it) is cut off with a warning. Further errors: MNEMO_ECORRUPT (damage before the end
 * of a file: the message, through persist->log, names the file and offset; mnemo-check can
 * report and repair), MNEMO_EIO (a file cannot be read or written; errno tells why),
 * MNEMO_EBUSY (another store holds the directory). mnemo_store_close() writes and syncs the log.
 */

/* Closes the store if open and frees the handle. No other thread may use it during or after. */
void mnemo_store_free(mnemo_store *store);

/*
 * Turns value compression on (with values of at least `min_len` bytes compressed) or off, at
 * run time (mnemo_config.compression and compress_min set it at open). It applies to writes
 * that start after the call; values already stored stay as they are (compressed or not) until
 * they are rewritten, and read back the same either way.
 * Errors: MNEMO_EINVAL (store NULL, min_len 0), MNEMO_ECLOSED. Thread-safe (an atomic store).
 */
int mnemo_store_set_compression(mnemo_store *store, int on, size_t min_len);

/*
 * Runs one slice of background work (active expiry) now: at most `budget` keys are examined in
 * total, each shard's lock is held only briefly. For embedders that set background_thread = 0,
 * and for tests. Returns the number of keys it expired (>= 0) or MNEMO_ECLOSED.
 */
int64_t mnemo_store_maintain(mnemo_store *store, unsigned budget);

/*
 * The memory ceiling, changeable at run time (any thread). Above the high-water mark the
 * background thread evicts down to the low-water mark in short slices; a write that finds the
 * store above maxmemory evicts a few slices itself before it goes on, and fails with
 * MNEMO_ENOSPACE if nothing can be evicted (noeviction; volatile-* with no key that has a TTL).
 * Reads, deletes and TTL changes always work. Lowering the ceiling evicts down to it in the
 * background. Without a background thread (background_thread = 0), writes above the high-water
 * mark do the eviction themselves. The ceiling can be overshot by at most about one segment
 * (64 KiB) plus one table resize per thread writing at the moment, plus what a running
 * transaction writes (it cannot evict shards it does not hold).
 * Errors: MNEMO_EINVAL (unknown policy; marks out of range), MNEMO_ECLOSED.
 */
int mnemo_set_maxmemory(mnemo_store *store, uint64_t bytes);
int mnemo_set_eviction_policy(mnemo_store *store, int policy);
int mnemo_set_eviction_marks(mnemo_store *store, unsigned high_pct, unsigned low_pct);

/* ---------------------------------------------------------------------------------------------
 * Values returned to the caller
 * ------------------------------------------------------------------------------------------- */

/* A copied-out value with its metadata. `data` is malloc()ed (NUL-terminated for convenience,
 * the terminator not counted in len) or NULL when no value was returned. */
typedef struct mnemo_value {
    void *data;
    size_t len;
    uint64_t version;      /* the entry's version */
    int64_t expire_at_ms;  /* absolute Unix ms, 0 = no expiry */
} mnemo_value;

/* Frees v->data and zeroes *v. Safe on a zeroed or already-released value. */
void mnemo_value_release(mnemo_value *v);

/*
 * A view of an entry, handed to read callbacks. `value` points into the store (or, for a value
 * the store keeps compressed, into a buffer of the calling thread holding its decompressed
 * copy) and is valid only during the callback, which runs while the key's shard lock is held:
 * it must be quick and must not call into the same store.
 */
typedef struct mnemo_item {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    uint64_t version;
    int64_t expire_at_ms; /* 0 = no expiry */
    size_t stored_len;    /* bytes the value takes in the store: value_len, or fewer when the
                             store keeps it compressed */
} mnemo_item;

typedef void (*mnemo_read_fn)(void *ctx, const mnemo_item *item);

/* ---------------------------------------------------------------------------------------------
 * Single-key operations
 * ------------------------------------------------------------------------------------------- */

/* Flags for mnemo_set_opts.flags and mnemo_expire(). */
enum {
    MNEMO_SET_NX = 1 << 0,         /* only if the key does not exist, else MNEMO_EEXISTS */
    MNEMO_SET_XX = 1 << 1,         /* only if the key exists, else MNEMO_ENOTFOUND */
    MNEMO_SET_KEEPTTL = 1 << 2,    /* keep the existing entry's expiration time */
    MNEMO_SET_GET = 1 << 3,        /* copy the previous value (if any) into *old */
    MNEMO_SET_IF_VERSION = 1 << 4, /* only if the key exists with version == opts.version,
                                      else MNEMO_ENOTFOUND / MNEMO_EVERSION */
    MNEMO_SET_EXPIRE_AT = 1 << 5,  /* opts.expire_at_ms is an absolute time (ttl_ms ignored) */
    MNEMO_SET_NO_TTL = 1 << 6,     /* no expiry even if the store has a default TTL */
};

typedef struct mnemo_set_opts {
    unsigned flags;        /* MNEMO_SET_* */
    int64_t ttl_ms;        /* > 0: expire after this many ms; 0: the store's default TTL */
    int64_t expire_at_ms;  /* with MNEMO_SET_EXPIRE_AT: absolute Unix ms. A time already past
                              makes the set succeed without storing anything: a previous value
                              is deleted (a delete event), as Redis does */
    uint64_t version;      /* with MNEMO_SET_IF_VERSION: the expected current version */
} mnemo_set_opts;

/*
 * Stores `value` under `key` in database `db`, replacing any previous value and, unless
 * MNEMO_SET_KEEPTTL, its TTL. `opts` may be NULL (plain set, default TTL).
 * `old` may be NULL; with MNEMO_SET_GET it receives a copy of the previous value (data == NULL if
 * there was none), also when NX/XX/IF_VERSION made the set fail. `version_out` may be NULL; on
 * success it receives the new entry's version.
 * Errors: MNEMO_EEXISTS (NX), MNEMO_ENOTFOUND (XX, IF_VERSION), MNEMO_EVERSION (IF_VERSION),
 * MNEMO_ETTL (negative TTL, or outside [min_ttl_ms, max_ttl_ms]), MNEMO_ETOOBIG (value larger
 * than max_value_size), MNEMO_EINVAL (NX with XX).
 */
int mnemo_set(mnemo_store *store, unsigned db, const void *key, size_t key_len, const void *value,
              size_t value_len, const mnemo_set_opts *opts, mnemo_value *old,
              uint64_t *version_out);

/* Copies the value of `key` into *out (release with mnemo_value_release()).
 * Errors: MNEMO_ENOTFOUND. */
int mnemo_get(mnemo_store *store, unsigned db, const void *key, size_t key_len, mnemo_value *out);

/* Zero-copy read: calls fn(ctx, item) once, under the shard lock, if the key exists. A value
 * stored compressed is decompressed first (into a per-thread buffer the library reuses).
 * Errors: MNEMO_ENOTFOUND (fn not called); MNEMO_ENOMEM, MNEMO_ECORRUPT (a compressed value
 * could not be decompressed: fn not called). */
int mnemo_get_with(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                   mnemo_read_fn fn, void *ctx);

/* MNEMO_OK if the key exists, MNEMO_ENOTFOUND if not. Counts as a read in the stats. */
int mnemo_exists(mnemo_store *store, unsigned db, const void *key, size_t key_len);

/* A hint that these n keys of database db are about to be read or written (the server calls
 * it before running a pipelined batch): visits each key's shard (only if its lock is free: it
 * never waits) twice, first to start loading the index lines, then to find the index slots
 * whose tags match and start loading the entries they point at, so that the lookups that
 * follow find them in cache and the keys' memory latencies overlap instead of adding up. At
 * most 32 keys are looked at. Changes nothing, never fails; a stale hint is only wasted.
 * Measured on 1M keys, 16 keys at a time (build/prefetch_bench): about 0.35x the time of
 * plain lookups (docs/BENCHMARKS.md). */
void mnemo_prefetch_keys(mnemo_store *store, unsigned db, const void *const *keys,
                         const size_t *key_lens, size_t n);

/* Deletes the key. Errors: MNEMO_ENOTFOUND. */
int mnemo_del(mnemo_store *store, unsigned db, const void *key, size_t key_len);

/* Deletes the key only if its version equals `version`.
 * Errors: MNEMO_ENOTFOUND, MNEMO_EVERSION (nothing deleted). */
int mnemo_del_if_version(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                         uint64_t version);

/* Copies the value into *out (may be NULL) and deletes the key, atomically.
 * Errors: MNEMO_ENOTFOUND. */
int mnemo_getdel(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                 mnemo_value *out);

/* Flags for mnemo_expire() and mnemo_getex(). */
enum {
    MNEMO_EXPIRE_AT = 1 << 0, /* `when` is absolute Unix ms rather than a TTL from now */
    MNEMO_EXPIRE_NX = 1 << 1, /* only if the key has no expiry */
    MNEMO_EXPIRE_XX = 1 << 2, /* only if the key has an expiry */
    MNEMO_EXPIRE_GT = 1 << 3, /* only if the new time is later (no expiry counts as infinite) */
    MNEMO_EXPIRE_LT = 1 << 4, /* only if the new time is earlier (no expiry counts as infinite) */
    MNEMO_EXPIRE_PERSIST = 1 << 5, /* mnemo_getex only: remove the expiry (`when` ignored) */
};

/*
 * Sets the key's expiration: `when` is a TTL in ms, or an absolute Unix ms time with
 * MNEMO_EXPIRE_AT. A time that is already past deletes the key (reported as a delete event),
 * as Redis does. Changing the TTL does not change the entry's version.
 * Errors: MNEMO_ENOTFOUND, MNEMO_ECOND (NX/XX/GT/LT not met), MNEMO_ETTL (TTL outside the
 * configured bounds), MNEMO_EINVAL (incompatible flags: NX with XX/GT/LT, GT with LT).
 */
int mnemo_expire(mnemo_store *store, unsigned db, const void *key, size_t key_len, int64_t when,
                 unsigned flags);

/* Removes the key's expiration. Errors: MNEMO_ENOTFOUND, MNEMO_ECOND (it had none). */
int mnemo_persist(mnemo_store *store, unsigned db, const void *key, size_t key_len);

/* Remaining time to live in ms (>= 0), or -1 if the key has no expiry.
 * Errors: MNEMO_ENOTFOUND. */
int mnemo_ttl(mnemo_store *store, unsigned db, const void *key, size_t key_len, int64_t *ttl_ms);

/* Absolute expiration time in Unix ms, or -1 if the key has no expiry.
 * Errors: MNEMO_ENOTFOUND. */
int mnemo_expire_time(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                      int64_t *at_ms);

/*
 * Copies the value into *out (may be NULL) and, atomically, changes its expiration (Redis's
 * GETEX): flags == 0 and when == 0 leave it; flags == 0 and when > 0 set a TTL of `when` ms;
 * MNEMO_EXPIRE_AT sets the absolute time `when` (already past: the key is deleted after being
 * read, a delete event); MNEMO_EXPIRE_PERSIST removes it (`when` ignored). Counts as a read.
 * Errors: MNEMO_ENOTFOUND, MNEMO_ETTL (when < 0, an absolute when <= 0, or a TTL outside the
 * configured bounds), MNEMO_EINVAL (other flags, or AT with PERSIST).
 */
int mnemo_getex(mnemo_store *store, unsigned db, const void *key, size_t key_len, int64_t when,
                unsigned flags, mnemo_value *out);

/* ---------------------------------------------------------------------------------------------
 * Numbers stored as strings, and string edits (Redis semantics)
 * ------------------------------------------------------------------------------------------- */

/* Adds `delta` to the integer stored at key (a missing key counts as 0; its TTL is kept).
 * *result (may be NULL) receives the new value.
 * Errors: MNEMO_ENOTINT (the value is not a base-10 64-bit integer), MNEMO_EOVERFLOW. */
int mnemo_incr(mnemo_store *store, unsigned db, const void *key, size_t key_len, int64_t delta,
               int64_t *result);

#define MNEMO_FLOAT_STRLEN 5120 /* room for any long double in full, as Redis prints it */
/* Adds `delta` to the float stored at key (missing = 0), storing the result as Redis's
 * INCRBYFLOAT does (shortest exact decimal of a long double, no exponent). `out` (may be NULL)
 * receives that text, NUL-terminated; *out_len its length.
 * Errors: MNEMO_ENOTFLOAT (the stored value is not a number), MNEMO_ENOTFINITE (delta or the
 * result is infinite or NaN). */
int mnemo_incr_float(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                     long double delta, char out[MNEMO_FLOAT_STRLEN], size_t *out_len);

/* Appends to the value (a missing key is created). *new_len (may be NULL) receives the length
 * after the append. Errors: MNEMO_ETOOBIG. */
int mnemo_append(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                 const void *data, size_t data_len, size_t *new_len);

/* Length of the value; a missing key has length 0 and gives MNEMO_ENOTFOUND. */
int mnemo_strlen(mnemo_store *store, unsigned db, const void *key, size_t key_len, size_t *len);

/* Copies value[start..end] (inclusive, negative indices count from the end, clamped, as Redis's
 * GETRANGE) into *out; an empty range gives len 0. Errors: MNEMO_ENOTFOUND. */
int mnemo_getrange(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                   int64_t start, int64_t end, mnemo_value *out);

/* Overwrites the value from `offset` with `data`, zero-padding if the value was shorter (a
 * missing key is created, unless data_len == 0, which changes nothing). *new_len (may be NULL)
 * receives the resulting length (0 for a missing key with empty data).
 * Errors: MNEMO_ETOOBIG (offset + data_len > max_value_size). */
int mnemo_setrange(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                   size_t offset, const void *data, size_t data_len, size_t *new_len);

/* ---------------------------------------------------------------------------------------------
 * Batches: atomic across shards
 * ------------------------------------------------------------------------------------------- */
typedef struct mnemo_kv {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} mnemo_kv;

typedef struct mnemo_key {
    const void *key;
    size_t key_len;
} mnemo_key;

/*
 * Sets n pairs atomically. `opts` may be NULL; it applies to every pair. With MNEMO_SET_NX the
 * batch is all-or-nothing (Redis's MSETNX): if any key exists nothing is written and the result
 * is MNEMO_EEXISTS. MNEMO_SET_XX, MNEMO_SET_GET and MNEMO_SET_IF_VERSION are not accepted
 * (MNEMO_EINVAL). A key given twice takes the last value. Each key gets its own version.
 * Errors: as mnemo_set(); on MNEMO_ENOMEM a part of the batch may have been applied.
 */
int mnemo_mset(mnemo_store *store, unsigned db, const mnemo_kv *kvs, size_t n,
               const mnemo_set_opts *opts);

/* Reads n keys atomically; out[i] receives key i's value or data == NULL if missing.
 * On error every out[i] is left zeroed. */
int mnemo_mget(mnemo_store *store, unsigned db, const mnemo_key *keys, size_t n,
               mnemo_value *out);

/* Zero-copy batch read: for each i in order, fn(ctx, i, item) with item NULL if key i is
 * missing; all of it under the locks of every shard involved (one consistent snapshot).
 * Compressed values are handed over decompressed, as by mnemo_get_with(). Errors:
 * MNEMO_ENOMEM, MNEMO_ECORRUPT (key i's value could not be decompressed: fn was called for
 * the keys before i only). */
typedef void (*mnemo_mread_fn)(void *ctx, size_t index, const mnemo_item *item);
int mnemo_mget_with(mnemo_store *store, unsigned db, const mnemo_key *keys, size_t n,
                    mnemo_mread_fn fn, void *ctx);

/* Deletes n keys atomically; *deleted (may be NULL) receives how many existed. */
int mnemo_mdel(mnemo_store *store, unsigned db, const mnemo_key *keys, size_t n,
               size_t *deleted);

/* Counts how many of the n keys exist (a key named twice counts twice, as Redis's EXISTS). */
int mnemo_mexists(mnemo_store *store, unsigned db, const mnemo_key *keys, size_t n,
                  size_t *count);

/* ---------------------------------------------------------------------------------------------
 * Iteration and patterns. Patterns use Redis's glob syntax: * ? [abc] [a-z] [^x] and \ escapes.
 * A NULL pattern matches every key.
 * ------------------------------------------------------------------------------------------- */

/* Called once per key, under that key's shard lock: must be quick, must not call into the
 * store. `key` is valid only during the call. */
typedef void (*mnemo_key_fn)(void *ctx, const void *key, size_t key_len);

/*
 * One step of a cursor scan, as Redis's SCAN: start with cursor 0, pass back *next_cursor, stop
 * when it is 0. Each step visits about `count` table slots (a hint, at least 1) and reports the
 * matching live keys there. Guarantee: a key present for the whole scan is reported exactly once,
 * also while tables resize; keys added or removed meanwhile may or may not be.
 * Errors: MNEMO_EINVAL (a cursor this store never returned).
 */
int mnemo_scan(mnemo_store *store, unsigned db, uint64_t cursor, const char *pattern,
               size_t pattern_len, size_t count, mnemo_key_fn fn, void *ctx,
               uint64_t *next_cursor);

/* Reports every key matching the pattern: a full scan in steps that each hold one shard lock
 * briefly, so a key present for the whole call is reported exactly once. */
int mnemo_keys(mnemo_store *store, unsigned db, const char *pattern, size_t pattern_len,
               mnemo_key_fn fn, void *ctx);

/* Counts the keys matching the pattern. */
int mnemo_count_matching(mnemo_store *store, unsigned db, const char *pattern,
                         size_t pattern_len, uint64_t *count);

/* Deletes the keys matching the pattern, in slices that hold a shard lock only briefly, so other
 * callers are not stalled. Each deletion fires a delete event. *deleted (may be NULL) receives
 * the number removed. Keys written during the call may or may not be removed. */
int mnemo_delete_matching(mnemo_store *store, unsigned db, const char *pattern,
                          size_t pattern_len, uint64_t *deleted);

/* Returns 1 if `str` matches the glob `pattern` (Redis syntax, see above), else 0. `nocase`
 * folds ASCII case. Linear-time in practice, never exponential. Thread-safe, no store needed. */
int mnemo_glob_match(const char *pattern, size_t pattern_len, const char *str, size_t str_len,
                     int nocase);

/* ---------------------------------------------------------------------------------------------
 * Moving keys between names and databases (all atomic: both shards are locked together)
 * ------------------------------------------------------------------------------------------- */

/* Renames src to dst in database db, replacing dst (unless nx). The entry keeps its value and
 * expiration and gets a new version. Renaming a key to itself succeeds and changes nothing
 * (with nx it is MNEMO_EEXISTS, as Redis's RENAMENX answers 0). Fires a delete event for src
 * and a set event for dst. Errors: MNEMO_ENOTFOUND (no src), MNEMO_EEXISTS (nx, dst exists). */
int mnemo_rename(mnemo_store *store, unsigned db, const void *src, size_t src_len,
                 const void *dst, size_t dst_len, int nx);

/* Copies src (database src_db) to dst (database dst_db) with its value and expiration; the copy
 * gets a new version. Without `replace`, an existing dst is MNEMO_EEXISTS.
 * Errors: MNEMO_ENOTFOUND, MNEMO_EEXISTS, MNEMO_EINVAL (same key in the same database). */
int mnemo_copy(mnemo_store *store, unsigned src_db, const void *src, size_t src_len,
               unsigned dst_db, const void *dst, size_t dst_len, int replace);

/* Moves the key from db to dst_db (keeping value and expiration; a new version).
 * Errors: MNEMO_ENOTFOUND, MNEMO_EEXISTS (dst_db has the key), MNEMO_EINVAL (same database). */
int mnemo_move(mnemo_store *store, unsigned db, const void *key, size_t key_len,
               unsigned dst_db);

/* Swaps the whole contents of two databases, atomically. */
int mnemo_swapdb(mnemo_store *store, unsigned db1, unsigned db2);

/* Copies a key chosen at random from db into *key (key->data holds the key bytes).
 * Errors: MNEMO_ENOTFOUND (the database is empty). */
int mnemo_random_key(mnemo_store *store, unsigned db, mnemo_value *key);

/* Bytes the key costs the store: its entry plus its index slot (Redis's MEMORY USAGE).
 * Errors: MNEMO_ENOTFOUND. */
int mnemo_key_memory(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                     size_t *bytes);

/* What the eviction policy sees of a key (Redis's OBJECT FREQ / OBJECT IDLETIME). Looking does
 * not count as an access. */
typedef struct mnemo_key_meta {
    unsigned freq;    /* access count, 0..3: raised by reads and writes, lowered or reset when
                         the policy passes over the key and keeps it */
    int64_t age_ms;   /* ms since the key's entry entered its queue (its segment was started;
                         written, or kept by the policy): the age the FIFO orders by. An upper
                         bound of the idle time, exact when freq is 0 after a write */
    int queue;        /* 0: S3-FIFO's small (probation) queue, 1: main */
} mnemo_key_meta;

/* Errors: MNEMO_ENOTFOUND. */
int mnemo_key_meta_get(mnemo_store *store, unsigned db, const void *key, size_t key_len,
                       mnemo_key_meta *out);

/* ---------------------------------------------------------------------------------------------
 * Transactions: run several calls atomically (the server's MULTI/EXEC)
 *
 * mnemo_txn_begin() locks the shards of the declared keys (or, with whole_store, every shard of
 * every database), in the global order, so transactions cannot deadlock. Until
 * mnemo_txn_end(), the calling thread may make any API call on declared keys (and, with
 * whole_store, any call at all): those calls use the held locks and are invisible to other
 * threads until the end, which block on those shards meanwhile. A call that needs a shard the
 * transaction does not hold returns MNEMO_ETXN (locks are per shard: an undeclared key that
 * shares a shard with a declared one is not refused). Only the thread that began a transaction may use or end it, and it may
 * run one at a time (a second begin is MNEMO_EINVAL). Keep transactions short.
 * ------------------------------------------------------------------------------------------- */
typedef struct mnemo_txn mnemo_txn;

typedef struct mnemo_txn_key {
    unsigned db;
    const void *key;
    size_t key_len;
} mnemo_txn_key;

/* Errors: MNEMO_EDB, MNEMO_ETOOBIG, MNEMO_EINVAL (a transaction already runs on this thread),
 * MNEMO_ENOMEM. On MNEMO_OK, *out must be passed to mnemo_txn_end(). */
int mnemo_txn_begin(mnemo_store *store, const mnemo_txn_key *keys, size_t n, int whole_store,
                    mnemo_txn **out);

/* Releases the locks (in reverse order) and frees txn. */
void mnemo_txn_end(mnemo_txn *txn);

/* ---------------------------------------------------------------------------------------------
 * Databases, statistics
 * ------------------------------------------------------------------------------------------- */

/* Deletes every key of database `db` (delete events are not fired per key). */
int mnemo_flush(mnemo_store *store, unsigned db);

/* Deletes every key of every database. */
int mnemo_flush_all(mnemo_store *store);

/* Number of live keys in `db` (keys past their deadline but not yet reclaimed may be counted). */
int mnemo_dbsize(mnemo_store *store, unsigned db, uint64_t *count);

typedef struct mnemo_db_info {
    uint64_t keys;          /* as mnemo_dbsize() */
    uint64_t keys_with_ttl; /* of which with an expiration time */
    int64_t avg_ttl_ms;     /* their average remaining TTL (exact, not sampled), 0 if none */
} mnemo_db_info;

/* Fills *out for database db (Redis's INFO keyspace line). Each shard is read under its lock. */
int mnemo_db_info_get(mnemo_store *store, unsigned db, mnemo_db_info *out);

/* Number of databases the store was opened with (0 if store is NULL). */
unsigned mnemo_databases(const mnemo_store *store);

typedef struct mnemo_stats {
    uint64_t keys;           /* live keys, all databases */
    uint64_t keys_with_ttl;  /* of which with an expiration time */
    uint64_t memory_used;    /* bytes the store has allocated (tables, entries, indexes), as
                                the allocator reports them: tracks RSS growth */
    uint64_t data_bytes;     /* bytes of live entries (headers, keys and values) */
    uint64_t gets;           /* reads of a single key (get, exists, ttl, getrange, ...) */
    uint64_t hits;           /* reads that found the key */
    uint64_t misses;         /* reads that did not */
    uint64_t sets;           /* successful writes */
    uint64_t deletes;        /* keys removed by callers */
    uint64_t expired;        /* keys removed because their TTL ran out */
    uint64_t evicted;        /* keys removed to stay under the memory ceiling */
    double hit_rate;         /* hits / (hits + misses), 0 when there were no reads */
    uint64_t maxmemory;      /* the ceiling now in force, 0 = none */
    int eviction_policy;     /* the policy now in force */
    uint64_t compressed_values;          /* live values stored compressed */
    uint64_t compressed_bytes;           /* bytes they take in the store (LZ4 blocks and
                                            their length headers; part of data_bytes) */
    uint64_t compressed_original_bytes;  /* their length as written */
    double compression_ratio;            /* compressed_original_bytes / compressed_bytes
                                            (e.g. 3.0: a third of the size), 0 when none */
} mnemo_stats;

/* Fills *out with the store's counters (summed over shards, each read under its lock). */
int mnemo_store_stats(mnemo_store *store, mnemo_stats *out);

/* Gives back memory held for the moment: finishes the index resizes in progress (each shard
 * keeps its old index until its entries have moved, a few per write and more per background
 * cycle) and asks the allocator to return free heap pages to the system (malloc_trim, which
 * acts on the whole process). Locks one shard at a time. The server's MEMORY PURGE. */
int mnemo_store_purge(mnemo_store *store);

/* Zeroes the counters (gets, hits, misses, sets, deletes, expired, evicted). */
int mnemo_stats_reset(mnemo_store *store);

/* A new version, greater than every version handed out before it (all keys and databases); every
 * later write gets a greater one. Costs a pass over the shards' clocks: not for hot paths. */
uint64_t mnemo_store_next_version(mnemo_store *store);

/* ---------------------------------------------------------------------------------------------
 * Persistence: the log and its commit points. LSNs number log records from 1; every function
 * here returns 0 / does nothing on a store opened without persistence.
 * ------------------------------------------------------------------------------------------- */
enum { MNEMO_LSN_APPENDED = 0, MNEMO_LSN_WRITTEN = 1, MNEMO_LSN_DURABLE = 2 };

/* The last LSN appended to the log's buffer, handed to the kernel, or known to be on stable
 * storage (under MNEMO_FSYNC_NO: handed to the kernel). Lock-free, thread-safe. */
uint64_t mnemo_log_lsn(mnemo_store *store, int which);

/* Hands every appended record to the kernel now (one write(2) for all that is pending), so
 * they survive a crash of the process. Returns MNEMO_OK or MNEMO_EIO. */
int mnemo_log_flush(mnemo_store *store);

/* Writes and syncs every appended record now, in the caller's thread: with async_commit under
 * MNEMO_FSYNC_ALWAYS, the caller that has commits waiting leads the group commit itself (the
 * server's workers do, as Redis's event loop does) instead of handing it to the log thread
 * and being woken back. One sync runs at a time: with `wait` = 0 it returns MNEMO_EBUSY at
 * once if another thread's is running (whose end the durable callback reports); with 1 it
 * waits for it and then syncs. MNEMO_OK, MNEMO_EBUSY or MNEMO_EIO. */
int mnemo_log_sync(mnemo_store *store, int wait);

/* Blocks until every record up to `lsn` is on stable storage (under ALWAYS it waits for the
 * log thread's group commit; otherwise it writes and syncs itself). MNEMO_OK or MNEMO_EIO. */
int mnemo_log_wait(mnemo_store *store, uint64_t lsn);

/*
 * Takes a point-in-time snapshot in the background (fork with copy-on-write: the callers of
 * the store are stalled only while every shard lock is taken and the process forks) and, once
 * it is written and synced, makes it the base of the state: the manifest then names the
 * snapshot and the log segment that starts right after it, and the older files are deleted.
 * This is also how the log is compacted (Redis's BGREWRITEAOF and BGSAVE in one). With the
 * log off (MNEMO_PERSIST_SNAPSHOTS), the snapshot alone becomes the state and every log
 * segment is deleted.
 * `wait` = 1 returns when the snapshot is complete (SAVE; a background snapshot already
 * running is waited for first); 0 as soon as it runs (BGSAVE).
 * The process must not ignore SIGCHLD (the child is reaped with waitpid). The stall is mostly
 * fork() copying page tables: run the process with GLIBC_TUNABLES=glibc.malloc.hugetlb=1
 * (THP mode madvise) to back the heap with 2 MiB pages, ~10x shorter (docs/persistence.md).
 * Errors: MNEMO_EINVAL (no persistence), MNEMO_ETXN (inside a transaction), MNEMO_EBUSY (one
 * is running), MNEMO_EIO (a file could not be written, fork failed, or the snapshot failed).
 */
int mnemo_snapshot(mnemo_store *store, int wait);

/* Changes the fsync policy of an open store (CONFIG SET appendfsync). MNEMO_EINVAL. */
int mnemo_persist_set_fsync(mnemo_store *store, mnemo_fsync mode);

/* The log's state: off (in memory only, or snapshots only), on, or starting (switched on, its
 * base snapshot still being written: changes are logged, but none after the switch counts as
 * durable before that snapshot is in the manifest). */
enum { MNEMO_LOGSTATE_OFF = 0, MNEMO_LOGSTATE_ON = 1, MNEMO_LOGSTATE_STARTING = 2 };

/* The log's state (MNEMO_LOGSTATE_*); OFF without persistence. Lock-free, thread-safe. */
int mnemo_log_state(mnemo_store *store);

/*
 * Switches the log on or off at run time (CONFIG SET appendonly yes / no).
 *   MNEMO_PERSIST_LOG: starts a snapshot (as mnemo_snapshot(store, 0); a snapshot already
 *     running is stopped, this one supersedes it) and logs every change from its fork point
 *     into a new segment; when the snapshot is written, one manifest write makes "this
 *     snapshot + that segment" the state, and the older files are deleted. Until then the log
 *     is MNEMO_LOGSTATE_STARTING and its durable LSN stays at the fork point: commits (the
 *     library's own, mnemo_log_wait(), the server's held replies) wait for the snapshot, so no
 *     change acknowledged after the switch can be lost to a crash. If the snapshot fails, the
 *     switch is abandoned: the log is off again (reported through persist->log and in
 *     mnemo_persist_info.last_snapshot_ok), and changes made meanwhile are kept as in
 *     snapshots-only mode; the caller may retry. Returns once the snapshot runs.
 *     mnemo_store_close() waits for this snapshot (other running snapshots are stopped).
 *   MNEMO_PERSIST_SNAPSHOTS: every shard lock is taken briefly, the log stops, and what it
 *     holds is written and synced: the files then hold the state as of the switch, and the
 *     next snapshot replaces them (the log's segments are deleted). A switch-on still
 *     starting is abandoned (its snapshot is stopped).
 * Switching to the mode in force (or starting) does nothing. Not inside a transaction.
 * Errors: MNEMO_EINVAL (store NULL, no persistence, mode unknown), MNEMO_ETXN, MNEMO_ECLOSED,
 * MNEMO_EIO (a file could not be created, or fork failed: nothing changed), MNEMO_ENOMEM.
 * Thread-safe; concurrent snapshots and switches are serialised.
 */
int mnemo_persist_set_mode(mnemo_store *store, mnemo_persist_mode mode);

/*
 * Gives a store opened without persistence a directory at run time (CONFIG SET appendonly yes
 * or a save schedule on a server started in memory only). Nothing is loaded: the store's
 * contents become the state. pc is copied; in MNEMO_PERSIST_LOG mode the switch-on above
 * starts at once, in MNEMO_PERSIST_SNAPSHOTS mode nothing is written before the first
 * snapshot. Files already in the directory (of the same name) are replaced by the first
 * snapshot; the call refuses a directory whose manifest is damaged or missing beside log
 * segments (MNEMO_ECORRUPT), as opening would.
 * Errors: MNEMO_EINVAL (bad settings), MNEMO_EBUSY (the store already has persistence, or
 * another store holds the directory), MNEMO_ECORRUPT, MNEMO_EIO, MNEMO_ENOMEM, MNEMO_ECLOSED,
 * MNEMO_ETXN (inside a transaction). Thread-safe.
 * When the directory is taken but the switch-on cannot start, persistence stays attached in
 * snapshots-only mode and that error is returned. Must not run concurrently with close.
 */
int mnemo_persist_attach(mnemo_store *store, const mnemo_persist_config *pc);

typedef struct mnemo_persist_info {
    int enabled;                 /* the store has persistence (opened with it, or attached) */
    int mode;                    /* mnemo_persist_mode in force (or being switched to) */
    int log_state;               /* MNEMO_LOGSTATE_* */
    int fsync;                   /* mnemo_fsync in force */
    int last_write_ok;           /* the last write and sync of the log succeeded */
    int last_write_errno;
    uint64_t appended_lsn, written_lsn, durable_lsn;
    uint64_t log_bytes;          /* live log segments, bytes */
    uint64_t base_bytes;         /* the snapshot the log starts after, bytes (0: none) */
    int64_t last_fsync_ms;       /* Unix ms of the last log sync */
    uint64_t fsyncs;             /* fdatasyncs of the log since open */
    uint64_t slow_fsync_us;      /* time spent in those that took a millisecond or more */
    uint64_t changes_since_save; /* changes to keys since the last snapshot (Redis's dirty) */
    int snapshot_in_progress;
    int64_t last_snapshot_ms;    /* Unix ms the last snapshot completed (or the store loaded) */
    int last_snapshot_ok;
    int64_t last_snapshot_duration_ms;
    int64_t last_fork_us;        /* the stall of the last snapshot's fork, microseconds */
    uint64_t snapshots;          /* completed since open */
    uint64_t loaded_keys;        /* keys loaded at open */
    int64_t load_ms;             /* time the load took */
} mnemo_persist_info;

/* Fills *out. Errors: MNEMO_EINVAL. */
int mnemo_persist_info_get(mnemo_store *store, mnemo_persist_info *out);

/*
 * Checks the files of a persistence directory without opening a store: the manifest, the
 * snapshot and every log segment, record by record. Reports through pc->log (file, offset,
 * what is wrong). With `fix`, a damaged log is cut back to its last good record (everything
 * after it is lost; the report says how many bytes). *summary (may be NULL) receives
 * 0 (all good), 1 (a torn tail: start-up would truncate it), 2 (corruption).
 * Returns MNEMO_OK (the check ran), MNEMO_EIO, MNEMO_EINVAL.
 */
int mnemo_persist_check(const mnemo_persist_config *pc, int fix, int *summary);

#ifdef __cplusplus
}
#endif
#endif /* MNEMO_H */
