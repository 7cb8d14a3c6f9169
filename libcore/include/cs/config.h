/*
 * libcore/include/cs/config.h
 *      Table-driven configuration: defaults < JSON file < environment < command-line flags.
 *
 * A program declares its options once in a cs_opt_t table (terminated by an entry whose name is
 * NULL). Each option "kafka-brokers" is read from the flag --kafka-brokers (or --kafka-brokers=V),
 * the environment variable CS_KAFKA_BROKERS and the JSON config file key "kafka_brokers".
 * Every value is validated at load time; an invalid one is refused with an error naming the flag
 * or variable it came from and what is allowed. An empty string value is refused too (an empty
 * --group= must not quietly mean the default), unless the option is declared CS_OPT_EMPTY_OK or
 * its default is itself "" (then empty is one of its ordinary values, e.g. "no prefix").
 * Command-line words that are not options are positional arguments, which a program must declare
 * it takes (cs_config_accept_args); a stray one, or an unknown short flag such as -x, is refused.
 * --help (or -h) prints usage generated from the table.
 * cs_config_common_opts lists the options every program shares; programs pass it together with
 * their own table.
 *
 * The config owns copies of every value; accessors return borrowed pointers valid until
 * cs_config_destroy(). Not thread-safe; load once at start.
 */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "cs/api.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cs_opt_type {
    CS_OPT_STRING = 1,
    CS_OPT_INT,   /* 64-bit integer within [min, max] */
    CS_OPT_BOOL,  /* true/false/1/0/yes/no/on/off; a bare --flag means true */
    CS_OPT_ENUM,  /* one of choices[] (NULL-terminated) */
    CS_OPT_DOUBLE /* finite double within [min, max] */
} cs_opt_type_t;

enum {
    CS_OPT_REQUIRED = 1 << 0, /* load fails if no source sets it */
    CS_OPT_SECRET = 1 << 1,   /* never printed (cs_config_dump shows "***") */
    CS_OPT_EMPTY_OK = 1 << 2  /* CS_OPT_STRING: an empty value means something (see below) */
};

typedef struct cs_opt {
    const char *name; /* "batch-size"; NULL ends the table */
    cs_opt_type_t type;
    const char *def;            /* default as text, or NULL for none */
    const char *help;           /* one line for --help */
    double min, max;            /* CS_OPT_INT and CS_OPT_DOUBLE bounds (inclusive); both 0: none */
    const char *const *choices; /* CS_OPT_ENUM only */
    int flags;                  /* CS_OPT_REQUIRED | CS_OPT_SECRET */
} cs_opt_t;

typedef struct cs_config cs_config_t;

/*
 * kafka-brokers, pg-dsn, pg-dsn-file, kafka-props-file, log-level, config (the JSON file path).
 *
 * Secrets from files. pg-dsn-file names a file holding the DSN (one line); it stands for pg-dsn
 * at the precedence of its own source: --pg-dsn-file beats CS_PG_DSN, CS_PG_DSN_FILE beats a
 * pg_dsn in the JSON file, and both set by the same source is refused. kafka-props-file names a
 * Java-properties-style file of librdkafka properties (see cs_config_props_parse); its entries
 * come before those of --kafka-props, which therefore win. Both files are read at load time
 * through cs_config_secret_file_read (its permission policy applies) and their content is never
 * shown in a message.
 */
CS_API extern const cs_opt_t cs_config_common_opts[];

/*
 * Builds a config from up to two option tables (either may be NULL; names must not repeat).
 * Returns NULL and sets err when a table is malformed (FATAL). The tables must outlive the config.
 */
CS_API cs_config_t *cs_config_new(const char *program, const char *usage, const cs_opt_t *common,
                                  const cs_opt_t *own, cs_err_t *err);

/* Frees the config and every value it owns. Accepts NULL. */
CS_API void cs_config_destroy(cs_config_t *cfg);

/* cs_config_accept_args(cfg, CS_CONFIG_ARGS_ANY): any number of positional arguments. */
#define CS_CONFIG_ARGS_ANY (-1)

/*
 * Declares how many positional arguments cs_config_load accepts: at most max_args, or any number
 * with CS_CONFIG_ARGS_ANY. A new config accepts none. Call it before cs_config_load.
 */
CS_API void cs_config_accept_args(cs_config_t *cfg, int max_args);

/*
 * Loads values: defaults, then the JSON file named by the "config" option (from env or flags),
 * then envp (a NULL-terminated "NAME=value" array, normally environ; NULL means none), then argv.
 * Arguments that are not options are kept as positional arguments (see cs_config_arg), as many as
 * cs_config_accept_args allows; "--" ends option parsing and a lone "-" is a positional argument.
 * On error returns -1 with a FATAL err naming the source, e.g.
 * "CS_LOG_LEVEL: 'loud' is not one of debug, info, warn, error, off", "unknown option '-x'",
 * "unexpected argument 'foo'" or "--group: an empty value is not allowed".
 * Returns 1 (not an error) when --help was given: usage has been written to stdout.
 */
CS_API int cs_config_load(cs_config_t *cfg, int argc, char *const *argv, char *const *envp,
                          cs_err_t *err);

/* Accessors. The name must exist in the tables with the matching type, or the program aborts
 * (a programming error, never an input error). Unset options without default: NULL / 0 / false. */
CS_API const char *cs_config_str(const cs_config_t *cfg, const char *name);
CS_API long long cs_config_int(const cs_config_t *cfg, const char *name);
CS_API double cs_config_double(const cs_config_t *cfg, const char *name);
CS_API bool cs_config_bool(const cs_config_t *cfg, const char *name);
/* True when a source (file, env or flag), not the default, set the option. */
CS_API bool cs_config_is_set(const cs_config_t *cfg, const char *name);

/*
 * The librdkafka properties in effect: those of --kafka-props-file, then those of --kafka-props
 * (when the program declares that option), as a NULL-terminated array of "name=value" strings,
 * borrowed (valid until cs_config_destroy). Never NULL; empty when neither is set.
 * When a file was given and the program declares kafka-props, cs_config_str(cfg, "kafka-props")
 * returns the same entries joined with '\n' (so a value may hold a ','), which is what the
 * consumer, the dead-letter producer and the audit anchorer parse.
 */
CS_API const char *const *cs_config_kafka_props(const cs_config_t *cfg);

/* Positional arguments, in order. */
CS_API int cs_config_argc(const cs_config_t *cfg);
CS_API const char *cs_config_arg(const cs_config_t *cfg, int i);

/* Writes the usage text (generated from the tables) to out. */
CS_API void cs_config_usage(const cs_config_t *cfg, FILE *out);

/*
 * Standard start of a program: builds the config, loads it from argv and environ, and initialises
 * logging from log-level. On --help prints usage and returns NULL with *exit_code = 0; on a bad
 * value, an unknown option or a positional argument prints the error to stderr and returns NULL
 * with *exit_code = 2.
 */
CS_API cs_config_t *cs_config_start(const char *program, const char *usage, const cs_opt_t *own,
                                    int argc, char *const *argv, int *exit_code);

/* Like cs_config_start, for a program that takes up to max_args positional arguments
 * (CS_CONFIG_ARGS_ANY: any number), e.g. cs-produce's input files. */
CS_API cs_config_t *cs_config_start_args(const char *program, const char *usage,
                                         const cs_opt_t *own, int max_args, int argc,
                                         char *const *argv, int *exit_code);

/* ---- secrets ---- */

/* Largest secrets file read (bytes): a DSN or a properties file is far smaller. */
#define CS_CONFIG_SECRET_FILE_MAX (64 * 1024)

/*
 * Reads a file holding secrets into *text (NUL-terminated, owned by the caller, free()).
 * The policy, like OpenSSH's for private keys and libpq's for its key and password files: a
 * regular file that other users may read or write (mode & 0007), or that its group may write
 * (mode & 0020), is refused with a message saying to chmod it 600 (or 640 for a group of readers,
 * as Kubernetes' fsGroup and Docker secrets arrange). A pipe (--pg-dsn-file <(vault ...)) or a
 * character device such as /dev/stdin has no such mode and is read as is. A file larger than
 * CS_CONFIG_SECRET_FILE_MAX or holding a NUL byte is refused. what names the option in messages
 * ("--pg-dsn-file"). Returns 0, or -1 with a FATAL err (field: option) naming the path, never the
 * content.
 */
CS_API int cs_config_secret_file_read(const char *path, const char *what, char **text,
                                      cs_err_t *err);

/*
 * Parses librdkafka properties in Java-properties style, one "name=value" a line:
 *   - blank lines and lines whose first non-blank character is '#' or '!' are skipped;
 *   - blanks around the name and after '=' are dropped; the value is the rest of the line
 *     verbatim (trailing blanks included, a final '\r' excepted), so it may hold '=', ',' or '#';
 *   - a name is letters, digits, '.', '_' and '-'; a line without '=', an empty name, a name set
 *     twice, a line ending in '\' (continuations are not supported) and any other escape-free
 *     Java syntax (name:value, name value) are refused;
 *   - each property is checked with librdkafka (unknown name, invalid value), whose message is
 *     shown except for secret properties (cs_config_prop_is_secret), whose value it could echo.
 * origin names the text in messages ("/etc/cs/kafka.properties"); every error reads
 * "<origin>:<line>: <what is wrong>" and never shows a value. Returns a NULL-terminated array of
 * "name=value" strings (free it with cs_config_props_free), or NULL with a FATAL err
 * (field "kafka-props-file").
 */
CS_API char **cs_config_props_parse(const char *text, const char *origin, cs_err_t *err);

/* Frees what cs_config_props_parse returned. Accepts NULL. */
CS_API void cs_config_props_free(char **props);

/*
 * True for librdkafka properties whose value is a secret: every name holding "password" or
 * "secret" (sasl.password, ssl.key.password, ssl.keystore.password,
 * sasl.oauthbearer.client.secret), ssl.key.pem and sasl.oauthbearer.config.
 */
CS_API bool cs_config_prop_is_secret(const char *name);

/*
 * Copies text to out (at most size bytes, always NUL-terminated when size > 0) with every secret
 * value replaced by "***": in "name=value" lists separated by ',' or newlines, the values of
 * secret properties (cs_config_prop_is_secret); in PostgreSQL DSNs, password=VALUE (quoted or not)
 * and the password of a URI's user:password@. Returns out.
 */
CS_API char *cs_config_redact(const char *text, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* CS_CONFIG_H */
