/*
 * tests/fuzz/fuzz_config.c
 *      libFuzzer target: the configuration loader (libcore/src/config.c) over a JSON config
 *      file, the environment and command-line flags, under AddressSanitizer and UBSan.
 *
 * An input is three parts separated by a line "%%": the config file's content, environment
 * entries (NAME=VALUE, one a line) and command-line words (one a line). An empty first part
 * means no file; otherwise it is written to a temporary file that CS_CONFIG names. The loader
 * runs through cs_config_load (the entry point cs_config_start uses, minus printing the error
 * and setting up logging), over the common options and a table like the workers' with one
 * option of each type and flag, including a secret of each type. The input's own CS_CONFIG
 * entries and --config words stay, but a non-empty path they give is replaced by the temporary
 * file's (a fuzzed path could name /dev/stdin); the harness sets CS_CONFIG itself only when the
 * input names no file.
 *
 * Beyond "never crashes, never leaks, never exits", each input checks the loader's promises:
 *  - a refusal is FATAL and says why; --help returns 1;
 *  - an accepted config holds only valid values: integers and numbers within their bounds, enum
 *    words among the choices, no empty text unless the option allows it;
 *  - precedence: an option no flag mentions has its first CS_<NAME> entry's value, else the
 *    file's, else its default; the file is read exactly when the config option, as loaded,
 *    names it;
 *  - a number strtod reads in full as finite, within bounds, is taken (a subnormal such as
 *    1e-320 too, though strtod reports ERANGE for it);
 *  - a secret never reaches a message: the input is loaded again with every secret value
 *    changed in a way that keeps it valid or invalid alike (text replaced, letters' case
 *    swapped), and the outcome and message must not change;
 *  - the file is read as JSON: loading the same object re-serialized gives the same outcome.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cs/config.h"
#include "fuzz_common.h"

static const char *const modes[] = {"fast", "safe", "off", NULL};

/* Like the workers' tables (libcore/src/worker.c cs_worker_opts, tools/produce.c). */
static const cs_opt_t own[] = {
    {"group", CS_OPT_STRING, NULL, "consumer group"},
    {"prefix", CS_OPT_STRING, "", "table prefix (empty: none)"},
    {"note", CS_OPT_STRING, NULL, "free text", 0, 0, NULL, CS_OPT_EMPTY_OK},
    {"batch-size", CS_OPT_INT, "5000", "events per batch", 1, 1000000},
    {"offset", CS_OPT_INT, NULL, "any integer"},
    {"rate", CS_OPT_DOUBLE, "0", "events per second", 0, 1e6},
    {"ratio", CS_OPT_DOUBLE, NULL, "any number"},
    {"drain", CS_OPT_BOOL, "false", "drain and exit"},
    {"mode", CS_OPT_ENUM, "fast", "how", 0, 0, modes},
    {"secret-token", CS_OPT_STRING, NULL, "a token", 0, 0, NULL, CS_OPT_SECRET},
    {"secret-pin", CS_OPT_INT, NULL, "a pin", 1000, 9999, NULL, CS_OPT_SECRET},
    {"secret-level", CS_OPT_DOUBLE, NULL, "a level", 0, 1, NULL, CS_OPT_SECRET},
    {"secret-flag", CS_OPT_BOOL, NULL, "a flag", 0, 0, NULL, CS_OPT_SECRET},
    {"secret-mode", CS_OPT_ENUM, NULL, "a mode", 0, 0, modes, CS_OPT_SECRET},
    {NULL},
};

#define MAX_WORDS 64

static char path[4096];

static void fail(const char *what, const cs_err_t *err, const char *detail)
{
    fprintf(stderr, "fuzz_config: broken promise: %s (%s: %s)%s%s\n", what, err ? err->field : "",
            err ? err->msg : "", detail ? "\n  " : "", detail ? detail : "");
    abort();
}

static void remove_file(void)
{
    unlink(path);
}

static void write_file(const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static void write_seeds(const char *dir)
{
    static const char *const seeds[] = {
        "{\"kafka_brokers\":\"localhost:9092\",\"batch_size\":100,\"rate\":2.5,\"drain\":true,"
        "\"mode\":\"safe\",\"prefix\":\"\",\"note\":\"\"}\n%%\nCS_BATCH_SIZE=200\nCS_LOG_LEVEL="
        "debug\n"
        "%%\n--rate=3\n--no-drain\nfile.jsonl\n",
        "{\"pg_dsn\":\"postgresql://u:hunter2@h/db\",\"secret_token\":\"tok\",\"secret_pin\":1234,"
        "\"secret_level\":0.5,\"secret_flag\":\"yes\",\"secret_mode\":\"Off\"}\n%%\n%%\n",
        "{\"secret_pin\":99999}\n%%\nCS_SECRET_LEVEL=inf\n%%\n--secret-mode\nloud\n",
        "%%\nCS_GROUP=\nCS_OFFSET=-9223372036854775808\nCS_RATIO=1e308\n%%\n--group=g\n",
        "{\"batch_size\":1.5}\n%%\n%%\n",
        "[1,2]\n%%\n%%\n",
        "{\"unknown\":1}\n%%\n%%\n",
        "{\"note\":null}\n%%\n%%\n",
        "%%\n%%\n--\n-\n-x\n",
        "%%\n%%\n--help\n",
        "%%\nCS_DRAIN=maybe\n%%\n--offset\n",
        "{\"log_level\":\"ERROR\",\"ratio\":-0.0}\n%%\nCS_SECRET_TOKEN=s3cr3t\n%%\n--secret-pin="
        "12\n",
        "{\"group\":\"from-file\"}\n%%\nCS_CONFIG=x\n%%\n--config\nx\n--group=g\n",
        "{\"group\":\"from-file\"}\n%%\n%%\n--note\n--config=x\n",
        "{\"group\":\"from-file\"}\n%%\nCS_CONFIG=\n%%\n--config=\n",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
        fuzz_write_seed(dir, "config", (int)i, seeds[i], strlen(seeds[i]));
    FILE *f = fuzz_dict_open(dir);
    fputs("\"\\x0a%%\\x0a\"\n\"--no-\"\n\"--\"\n\"true\"\n\"off\"\n\"1e999\"\n\"nan\"\n\"0x10\"\n"
          "\"--help\"\n\"\\\\u0000\"\n\"--config=\"\n",
          f);
    for (int t = 0; t < 2; t++)
        for (const cs_opt_t *o = t ? own : cs_config_common_opts; o->name; o++) {
            char env[128] = "CS_", js[128] = "";
            size_t k = 3, j = 0;
            for (const char *c = o->name; *c; c++) {
                env[k++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
                js[j++] = *c == '-' ? '_' : *c;
            }
            env[k] = js[j] = '\0';
            fprintf(f, "\"--%s\"\n\"%s=\"\n\"\\\"%s\\\":\"\n", o->name, env, js);
        }
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_seeds_mode(write_seeds);
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/fuzz_config.%ld.json", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    atexit(remove_file);
    /* --help writes the usage to stdout: keep libFuzzer's output readable. */
    if (!freopen("/dev/null", "w", stdout))
        abort();
    return 0;
}

/* One load's outcome. */
typedef struct {
    int rc;
    cs_err_t err;
} outcome_t;

static cs_config_t *load(char **argv, int argc, char **envp, outcome_t *out)
{
    cs_config_t *cfg = cs_config_new("fuzz", "[FILE]", cs_config_common_opts, own, &out->err);
    if (!cfg)
        fail("the option tables are valid", &out->err, NULL);
    cs_config_accept_args(cfg, 2);
    out->rc = cs_config_load(cfg, argc, argv, envp, &out->err);
    if (out->rc != 0 && out->rc != 1 && out->rc != -1)
        fail("cs_config_load returns -1, 0 or 1", &out->err, NULL);
    if (out->rc < 0 && (out->err.kind != CS_ERR_FATAL || !out->err.msg[0]))
        fail("a refusal is FATAL and says why", &out->err, NULL);
    return cfg;
}

static bool same_outcome(const outcome_t *a, const outcome_t *b)
{
    return a->rc == b->rc &&
           (a->rc >= 0 || (a->err.kind == b->err.kind && !strcmp(a->err.field, b->err.field) &&
                           !strcmp(a->err.msg, b->err.msg)));
}

static const cs_opt_t *find_opt(const char *name, size_t n)
{
    for (int t = 0; t < 2; t++)
        for (const cs_opt_t *o = t ? own : cs_config_common_opts; o->name; o++)
            if (strlen(o->name) == n && !strncmp(o->name, name, n))
                return o;
    return NULL;
}

static void json_key(const cs_opt_t *o, char *out)
{
    size_t j = 0;
    for (const char *c = o->name; *c; c++)
        out[j++] = *c == '-' ? '_' : *c;
    out[j] = '\0';
}

static void env_key(const cs_opt_t *o, char *out)
{
    size_t k = 3;
    memcpy(out, "CS_", 3);
    for (const char *c = o->name; *c; c++)
        out[k++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
    out[k] = '\0';
}

/* A secret's value changed so that it stays valid or invalid alike: a non-empty text becomes
 * another, letters of the other types swap case (bool, enum and number parsing ignore case).
 * Returns a malloc'ed string. */
static char *disguise(const cs_opt_t *o, const char *v)
{
    if (o->type == CS_OPT_STRING)
        return strdup(*v ? "Zq-disguised" : "");
    char *d = strdup(v);
    for (char *c = d; *c; c++)
        if (isalpha((unsigned char)*c))
            *c = (char)(islower((unsigned char)*c) ? toupper((unsigned char)*c)
                                                   : tolower((unsigned char)*c));
    return d;
}

/* Whether any command-line word mentions --NAME or --no-NAME (then the flag may decide). */
static bool flag_mentions(char **argv, int argc, const cs_opt_t *o)
{
    char a[160], b[160];
    snprintf(a, sizeof a, "--%s", o->name);
    snprintf(b, sizeof b, "--no-%s", o->name);
    for (int i = 1; i < argc; i++)
        if (strstr(argv[i], a) || strstr(argv[i], b))
            return true;
    return false;
}

static const char *env_first(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* The value text a file member gives, as config.c turns it into text; NULL for other types. */
static const char *member_text(json_t *v, char buf[64])
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, 64, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, 64, "%.17g", json_real_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return NULL;
}

/* An accepted config holds what its sources say, and only valid values. */
static void check_values(const cs_config_t *cfg, char **argv, int argc, char **envp, json_t *file)
{
    for (int t = 0; t < 2; t++)
        for (const cs_opt_t *o = t ? own : cs_config_common_opts; o->name; o++) {
            char env[160], js[160], num[64], detail[256];
            const char *want = o->def;
            bool set = false;
            bool ranged = !(o->min == 0 && o->max == 0);

            snprintf(detail, sizeof detail, "option %s", o->name);
            if (!strcmp(o->name, "config"))
                continue;
            env_key(o, env);
            json_key(o, js);
            if (flag_mentions(argv, argc, o)) {
                want = NULL; /* the flags decide: only the value checks below */
            } else if (env_first(envp, env)) {
                want = env_first(envp, env);
                set = true;
            } else if (file && json_object_get(file, js)) {
                want = member_text(json_object_get(file, js), num);
                set = true;
            }
            bool decided = !flag_mentions(argv, argc, o);
            if (decided && set != cs_config_is_set(cfg, o->name))
                fail("an option is set exactly when a source sets it", NULL, detail);
            switch (o->type) {
            case CS_OPT_STRING: {
                const char *s = cs_config_str(cfg, o->name);
                if (s && !*s && !(o->flags & CS_OPT_EMPTY_OK) && !(o->def && !*o->def))
                    fail("no empty text unless the option allows it", NULL, detail);
                if (decided && (want ? !s || strcmp(s, want) : s != NULL))
                    fail("a text option has its source's value", NULL, detail);
                break;
            }
            case CS_OPT_ENUM: {
                const char *s = cs_config_str(cfg, o->name);
                bool ok = !s;
                for (const char *const *c = o->choices; s && *c; c++)
                    ok |= !strcasecmp(s, *c);
                if (!ok)
                    fail("an enum holds one of its choices", NULL, detail);
                if (decided && (want ? !s || strcmp(s, want) : s != NULL))
                    fail("an enum option has its source's value", NULL, detail);
                break;
            }
            case CS_OPT_INT: {
                long long x = cs_config_int(cfg, o->name);
                if (ranged && cs_config_is_set(cfg, o->name) && (x < o->min || x > o->max))
                    fail("an integer is within its bounds", NULL, detail);
                if (decided && want && x != strtoll(want, NULL, 10))
                    fail("an integer option has its source's value", NULL, detail);
                break;
            }
            case CS_OPT_DOUBLE: {
                double x = cs_config_double(cfg, o->name);
                if (!isfinite(x) || (ranged && (x < o->min || x > o->max)))
                    fail("a number is finite and within its bounds", NULL, detail);
                if (decided && want && x != strtod(want, NULL))
                    fail("a number option has its source's value", NULL, detail);
                break;
            }
            case CS_OPT_BOOL: {
                bool x = cs_config_bool(cfg, o->name);
                if (decided && want &&
                    x != (!strcasecmp(want, "true") || !strcmp(want, "1") ||
                          !strcasecmp(want, "yes") || !strcasecmp(want, "on")))
                    fail("a boolean option has its source's value", NULL, detail);
                break;
            }
            }
        }
}

/* Whether text is a number the loader must take for o: strtod reads all of it as a finite
 * value (a subnormal too, though strtod reports ERANGE for it) that is not a non-zero rounded
 * to 0, within o's bounds. */
static bool number_ok(const cs_opt_t *o, const char *text)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (!*text || *end || !isfinite(x) || (errno == ERANGE && x == 0))
        return false;
    return (o->min == 0 && o->max == 0) || (x >= o->min && x <= o->max);
}

/* A refusal naming a number option that no flag mentions, while every value the file and the
 * environment give it is a valid number, refuses a number it must take. */
static void check_number_refusal(const outcome_t *o1, char **argv, int argc, char **envp,
                                 json_t *file)
{
    const cs_opt_t *o = find_opt(o1->err.field, strlen(o1->err.field));
    char env[160], js[160], num[64];
    int seen = 0;

    if (!o || o->type != CS_OPT_DOUBLE || flag_mentions(argv, argc, o))
        return;
    env_key(o, env);
    json_key(o, js);
    size_t n = strlen(env);
    for (char **e = envp; *e; e++)
        if (!strncmp(*e, env, n) && (*e)[n] == '=') {
            if (!number_ok(o, *e + n + 1))
                return;
            seen++;
        }
    if (file && json_object_get(file, js)) {
        const char *t = member_text(json_object_get(file, js), num);
        if (!t || !number_ok(o, t))
            return;
        seen++;
    }
    if (seen)
        fail("a finite number within bounds is taken (a subnormal too)", &o1->err, NULL);
}

/*
 * Disguises every secret value on the command line, walking argv as cs_config_load does: only
 * words the loader takes as a secret's value change (never a positional argument).
 */
static void disguise_argv(char **argv, int argc, char **owned)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--") || !strcmp(a, "--help") || !strcmp(a, "-h"))
            return;
        if (a[0] != '-' || a[1] != '-')
            continue;
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const cs_opt_t *o = find_opt(a + 2, n);
        if (!o)
            continue; /* --no-x, or unknown: the loader stops or takes no value */
        if (eq) {
            if (o->flags & CS_OPT_SECRET) {
                char *d = disguise(o, eq + 1);
                size_t len = (size_t)(eq + 1 - a) + strlen(d) + 1;
                owned[i] = malloc(len);
                snprintf(owned[i], len, "%.*s%s", (int)(eq + 1 - a), a, d);
                argv[i] = owned[i];
                free(d);
            }
        } else if (o->type != CS_OPT_BOOL && i + 1 < argc) {
            i++;
            if (o->flags & CS_OPT_SECRET) {
                owned[i] = disguise(o, argv[i]);
                argv[i] = owned[i];
            }
        }
    }
}

static void disguise_env(char **envp, char **owned)
{
    for (int i = 0; envp[i]; i++)
        for (int t = 0; t < 2; t++)
            for (const cs_opt_t *o = t ? own : cs_config_common_opts; o->name; o++) {
                char env[160];
                env_key(o, env);
                size_t n = strlen(env);
                if ((o->flags & CS_OPT_SECRET) && !strncmp(envp[i], env, n) && envp[i][n] == '=') {
                    char *d = disguise(o, envp[i] + n + 1);
                    size_t len = n + 1 + strlen(d) + 1;
                    owned[i] = malloc(len);
                    snprintf(owned[i], len, "%s=%s", env, d);
                    envp[i] = owned[i];
                    free(d);
                }
            }
}

static void disguise_file(json_t *file)
{
    for (int t = 0; t < 2; t++)
        for (const cs_opt_t *o = t ? own : cs_config_common_opts; o->name; o++) {
            char js[160];
            json_key(o, js);
            json_t *v = json_object_get(file, js);
            if ((o->flags & CS_OPT_SECRET) && json_is_string(v)) {
                char *d = disguise(o, json_string_value(v));
                json_object_set_new(file, js, json_string(d));
                free(d);
            }
        }
}

/* The next line "%%" in p[0..n): the first line of p or one after a newline. */
static char *find_sep(char *p, size_t n)
{
    if (n >= 3 && !memcmp(p, "%%\n", 3))
        return p;
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(p + i, "\n%%\n", 4))
            return p + i + 1;
    return NULL;
}

/* Splits p[0..n) at '\n' into NUL-terminated words (in place; p[n] must be writable). */
static int split(char *p, size_t n, char **words, int max)
{
    int k = 0;
    if (!n)
        return 0;
    p[n] = '\0';
    for (char *s = p; k < max;) {
        char *nl = strchr(s, '\n');
        words[k++] = s;
        if (!nl)
            break;
        *nl = '\0';
        s = nl + 1;
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';

    /* The three parts: file, a line "%%", env, a line "%%", argv (a part may be missing). */
    char *part[3] = {in, in + size, in + size};
    size_t plen[3] = {size, 0, 0};
    for (int k = 0; k < 2; k++) {
        char *sep = find_sep(part[k], plen[k]);
        if (!sep)
            break;
        part[k + 1] = sep + 3;
        plen[k + 1] = (size_t)(part[k] + plen[k] - part[k + 1]);
        plen[k] = (size_t)(sep - part[k]) - (sep > part[k]); /* without the line's newline */
    }
    for (int k = 1; k < 3; k++)
        if (plen[k] && part[k][plen[k] - 1] == '\n')
            plen[k]--; /* the last word's newline does not start another word */
    /* part[k][plen[k]] is a separator's '\n' or the final NUL: writable for split(). */
    char *envw[MAX_WORDS + 2], *argw[MAX_WORDS + 2];
    char *envp[MAX_WORDS + 2], *argv[MAX_WORDS + 2];
    int nenv = 0, argc = 1;
    char cfgenv[4200], cfgflag[4200];
    bool named = false;
    int ne = split(part[1], plen[1], envw, MAX_WORDS);
    int na = split(part[2], plen[2], argw, MAX_WORDS);
    /* Where the file lives is the harness's choice (a fuzzed path could name /dev/stdin): a
     * non-empty config value, from CS_CONFIG or --config, names the harness's file. */
    snprintf(cfgenv, sizeof cfgenv, "CS_CONFIG=%s", path);
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
    for (int i = 0; i < ne; i++) {
        if (!strncmp(envw[i], "CS_CONFIG=", 10)) {
            named = true;
            envp[nenv++] = envw[i][10] ? cfgenv : envw[i];
        } else {
            envp[nenv++] = envw[i];
        }
    }
    argv[0] = "fuzz";
    for (int i = 0; i < na; i++) {
        if (!strncmp(argw[i], "--config=", 9)) {
            named = true;
            argv[argc++] = argw[i][9] ? cfgflag : argw[i];
        } else if (!strcmp(argw[i], "--config")) {
            named = true;
            argv[argc++] = argw[i];
            if (i + 1 < na) {
                i++;
                argv[argc++] = argw[i][0] ? path : argw[i];
            }
        } else {
            argv[argc++] = argw[i];
        }
    }
    argv[argc] = NULL;
    if (plen[0]) {
        write_file(part[0], plen[0]);
        if (!named)
            envp[nenv++] = cfgenv;
    } else {
        unlink(path);
    }
    envp[nenv] = NULL;

    outcome_t o1;
    cs_config_t *cfg = load(argv, argc, envp, &o1);

    /* The file as jansson reads it, with the loader's flags. */
    json_t *file = NULL;
    if (plen[0]) {
        json_error_t jerr;
        file = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (file && !json_is_object(file)) {
            json_decref(file);
            file = NULL;
        }
    }
    /* The file is in effect exactly when the config option, as loaded, names it. */
    if (o1.rc == 0) {
        const char *cv = cs_config_str(cfg, "config");
        if (cv && *cv && strcmp(cv, path))
            fail("the config option names the harness's file", NULL, cv);
        check_values(cfg, argv, argc, envp, cv && *cv ? file : NULL);
    }
    cs_config_destroy(cfg);

    /* The same object re-serialized loads alike; then with every secret disguised too. */
    char *text = file ? json_dumps(file, JSON_COMPACT) : NULL;
    if (text) {
        outcome_t o2;
        write_file(text, strlen(text));
        cs_config_destroy(load(argv, argc, envp, &o2));
        if (!same_outcome(&o1, &o2))
            fail("the file's JSON, re-serialized, loads alike", &o2.err, o1.err.msg);
    }
    if (o1.rc < 0)
        check_number_refusal(&o1, argv, argc, envp, file);
    if (o1.rc < 0) {
        char *owned_a[MAX_WORDS + 2] = {0}, *owned_e[MAX_WORDS + 2] = {0};
        char *argv2[MAX_WORDS + 2], *envp2[MAX_WORDS + 2];
        outcome_t o3;
        memcpy(argv2, argv, sizeof argv);
        memcpy(envp2, envp, sizeof envp);
        disguise_argv(argv2, argc, owned_a);
        disguise_env(envp2, owned_e);
        if (text) {
            char *t2;
            disguise_file(file);
            t2 = json_dumps(file, JSON_COMPACT);
            write_file(t2, strlen(t2));
            free(t2);
        }
        cs_config_destroy(load(argv2, argc, envp2, &o3));
        for (int i = 0; i < MAX_WORDS + 2; i++) {
            free(owned_a[i]);
            free(owned_e[i]);
        }
        if (!same_outcome(&o1, &o3))
            fail("a secret's value never reaches a message", &o3.err, o1.err.msg);
    }
    free(text);
    json_decref(file);
    free(in);
    unlink(path); /* libFuzzer may end without running atexit handlers */
    return 0;
}
