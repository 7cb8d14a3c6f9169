/*
 * libcore/src/config.c
 *      Table-driven configuration from defaults, a JSON file, the environment and flags.
 *
 * Each option is declared once (cs_opt_t) and read from four places in increasing precedence:
 * its default, the JSON config file, CS_<NAME> in the environment, --<name> on the command line.
 * Every text value goes through one validator per type, so an invalid value is refused the same
 * way wherever it came from, with an error naming that source. Values are kept as owned text plus
 * their parsed form.
 *
 * Secrets: pg-dsn and kafka-props may be read from files (pg-dsn-file, kafka-props-file) once the
 * four sources are loaded, so that no example ever needs a password on the command line, where
 * every user of the host can read it in /proc/<pid>/cmdline. A secret's value never reaches a
 * message made here; cs_config_redact blanks secrets in text that must be shown.
 */
#include "cs/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs/log.h"
#include "cs/mem.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};

const cs_opt_t cs_config_common_opts[] = {
    {"kafka-brokers", CS_OPT_STRING, NULL, "Kafka bootstrap servers, host:port[,host:port...]"},
    {"pg-dsn", CS_OPT_STRING, NULL, "PostgreSQL connection string (libpq DSN or URI)", 0, 0, NULL,
     CS_OPT_SECRET},
    {"pg-dsn-file", CS_OPT_STRING, NULL,
     "file holding the PostgreSQL connection string on one line (mode 600 or 640), instead of "
     "--pg-dsn"},
    {"kafka-props-file", CS_OPT_STRING, NULL,
     "file of librdkafka properties, name=value a line (security.protocol, sasl.*, ssl.*; mode "
     "600 or 640)"},
    {"log-level", CS_OPT_ENUM, "info", "minimum level of log lines on stderr", 0, 0, log_levels},
    {"config", CS_OPT_STRING, NULL,
     "JSON config file; its keys are option names with '_' for '-' (empty: none)", 0, 0, NULL,
     CS_OPT_EMPTY_OK},
    {NULL},
};

enum source { SRC_NONE, SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG };

struct val {
    const cs_opt_t *opt;
    char *text; /* owned; NULL when unset */
    enum source src;
    long long i;
    double d;
    bool b;
};

struct cs_config {
    char *program;
    char *usage;
    struct val *vals;
    int nvals;
    char **args;
    int nargs;
    int max_args;  /* positional arguments accepted; CS_CONFIG_ARGS_ANY: no limit */
    char **kprops; /* cs_config_kafka_props: NULL-terminated, owned; NULL until loaded */
};

static const char *const no_props[] = {NULL};

/* "kafka-brokers" -> "CS_KAFKA_BROKERS" */
static void env_name(const char *name, char *out, size_t size)
{
    size_t o = (size_t)snprintf(out, size, "CS_");

    for (; *name && o + 1 < size; name++)
        out[o++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    out[o] = '\0';
}

/* "kafka-brokers" -> "kafka_brokers" */
static void json_name(const char *name, char *out, size_t size)
{
    size_t o = 0;

    for (; *name && o + 1 < size; name++)
        out[o++] = *name == '-' ? '_' : *name;
    out[o] = '\0';
}

static const char *type_word(const cs_opt_t *o)
{
    switch (o->type) {
    case CS_OPT_INT:
        return "INT";
    case CS_OPT_DOUBLE:
        return "NUM";
    case CS_OPT_BOOL:
        return "BOOL";
    case CS_OPT_ENUM:
        return "WORD";
    default:
        return "TEXT";
    }
}

/* A string option: empty only where the option says empty means something. */
static int check_string(const cs_opt_t *o, const char *text, const char *where, cs_err_t *err)
{
    /* An empty value would quietly mean "unset" (--group= the default group) for most
     * options: only those that say empty means something take it. */
    if (!*text && !(o->flags & CS_OPT_EMPTY_OK) && !(o->def && !*o->def))
        return cs_err_set_field(err, CS_ERR_FATAL, o->name,
                                "%s: an empty value is not allowed (leave it unset for "
                                "the default)",
                                where);
    return 0;
}

/* An integer option: text read into *out, within the option's range if it has one. shown is
 * text as a message may show it ("***" for a secret). */
static int parse_int(const cs_opt_t *o, const char *text, const char *shown, const char *where,
                     long long *out, cs_err_t *err)
{
    bool ranged = !(o->min == 0 && o->max == 0);
    char *end = NULL;
    long long x;

    errno = 0;
    x = strtoll(text, &end, 10);
    if (!*text || *end || errno)
        return cs_err_set_field(err, CS_ERR_FATAL, o->name, "%s: '%s' is not an integer", where,
                                shown);
    if (ranged && ((double)x < o->min || (double)x > o->max)) {
        char num[32];

        snprintf(num, sizeof(num), "%lld", x);
        return cs_err_set_field(
            err, CS_ERR_FATAL, o->name, "%s: %s is out of range (allowed %.0f..%.0f)", where,
            shown == text ? num : shown /* a secret stays "***" */, o->min, o->max);
    }
    *out = x;
    return 0;
}

/* A number option: text read into *out, finite, not rounded to 0, within the option's range. */
static int parse_double(const cs_opt_t *o, const char *text, const char *shown, const char *where,
                        double *out, cs_err_t *err)
{
    bool ranged = !(o->min == 0 && o->max == 0);
    char *end = NULL;
    double x;
    int e;

    errno = 0;
    x = strtod(text, &end);
    e = errno;
    if (!*text || *end || end == text)
        return cs_err_set_field(err, CS_ERR_FATAL, o->name, "%s: '%s' is not a number", where,
                                shown);
    /* strtod reports ERANGE for overflow (±HUGE_VAL), for underflow to 0, and on glibc for
     * every subnormal result too: a subnormal such as 1e-320 is a number, kept as read. */
    if (e == ERANGE && isinf(x))
        return cs_err_set_field(err, CS_ERR_FATAL, o->name,
                                "%s: '%s' is too large for a number (the largest is %g)", where,
                                shown, DBL_MAX);
    if (!isfinite(x))
        return cs_err_set_field(err, CS_ERR_FATAL, o->name, "%s: '%s' is not a finite number",
                                where, shown);
    if (e == ERANGE && x == 0)
        return cs_err_set_field(err, CS_ERR_FATAL, o->name,
                                "%s: '%s' is too small for a number: it would be read as 0 "
                                "(the smallest above 0 is %g)",
                                where, shown, DBL_TRUE_MIN);
    if (e && e != ERANGE)
        return cs_err_set_field(err, CS_ERR_FATAL, o->name, "%s: '%s' is not a number", where,
                                shown);
    if (ranged && (x < o->min || x > o->max)) /* as given: %g rounds 1.0000001 to 1 */
        return cs_err_set_field(err, CS_ERR_FATAL, o->name,
                                "%s: %s is out of range (allowed %g..%g)", where, shown, o->min,
                                o->max);
    *out = x;
    return 0;
}

/* A boolean option: true, false, 1, 0, yes, no, on, off, in any case. */
static int parse_bool(const cs_opt_t *o, const char *text, const char *shown, const char *where,
                      bool *out, cs_err_t *err)
{
    if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcasecmp(text, "yes") ||
        !strcasecmp(text, "on"))
        *out = true;
    else if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcasecmp(text, "no") ||
             !strcasecmp(text, "off"))
        *out = false;
    else
        return cs_err_set_field(err, CS_ERR_FATAL, o->name,
                                "%s: '%s' is not a boolean (allowed true, false, 1, 0, yes, "
                                "no, on, off)",
                                where, shown);
    return 0;
}

/* A word option: one of the option's choices, in any case; the message lists them. */
static int check_choice(const cs_opt_t *o, const char *text, const char *shown, const char *where,
                        cs_err_t *err)
{
    char allowed[256] = "";
    size_t n = 0;

    for (const char *const *c = o->choices; c && *c; c++)
        if (!strcasecmp(text, *c))
            return 0;
    for (const char *const *c = o->choices; c && *c && n < sizeof(allowed); c++)
        n += (size_t)snprintf(allowed + n, sizeof(allowed) - n, "%s%s", c == o->choices ? "" : ", ",
                              *c);
    return cs_err_set_field(err, CS_ERR_FATAL, o->name, "%s: '%s' is not one of %s", where, shown,
                            allowed);
}

/*
 * Validates text for v's option and stores it. where names the source for the message
 * ("CS_LOG_LEVEL", "--log-level", "config file x.json: key 'log_level'").
 */
static int set_value(struct val *v, const char *text, enum source src, const char *where,
                     cs_err_t *err)
{
    const cs_opt_t *o = v->opt;
    /* A secret's value never reaches a message, however wrong it is. */
    const char *shown = (o->flags & CS_OPT_SECRET) ? "***" : text;
    int rc = 0;

    switch (o->type) {
    case CS_OPT_STRING:
        rc = check_string(o, text, where, err);
        break;
    case CS_OPT_INT:
        rc = parse_int(o, text, shown, where, &v->i, err);
        break;
    case CS_OPT_DOUBLE:
        rc = parse_double(o, text, shown, where, &v->d, err);
        break;
    case CS_OPT_BOOL:
        rc = parse_bool(o, text, shown, where, &v->b, err);
        break;
    case CS_OPT_ENUM:
        rc = check_choice(o, text, shown, where, err);
        break;
    }
    if (rc < 0)
        return -1;
    free(v->text);
    v->text = cs_mem_strdup(text);
    v->src = src;
    return 0;
}

static struct val *find(const cs_config_t *cfg, const char *name)
{
    for (int i = 0; i < cfg->nvals; i++)
        if (!strcmp(cfg->vals[i].opt->name, name))
            return &cfg->vals[i];
    return NULL;
}

cs_config_t *cs_config_new(const char *program, const char *usage, const cs_opt_t *common,
                           const cs_opt_t *own, cs_err_t *err)
{
    const cs_opt_t *tabs[2] = {common, own};
    cs_config_t *cfg = cs_mem_calloc(1, sizeof(*cfg));
    int n = 0;

    cfg->program = cs_mem_strdup(program ? program : "careerstream");
    cfg->usage = cs_mem_strdup(usage ? usage : "");
    for (int t = 0; t < 2; t++)
        for (const cs_opt_t *o = tabs[t]; o && o->name; o++)
            n++;
    cfg->vals = cs_mem_calloc((size_t)n + 1, sizeof(*cfg->vals));
    for (int t = 0; t < 2; t++) {
        for (const cs_opt_t *o = tabs[t]; o && o->name; o++) {
            if (find(cfg, o->name)) {
                cs_err_set(err, CS_ERR_FATAL, "option '%s' is declared twice", o->name);
                goto fail;
            }
            if (o->type < CS_OPT_STRING || o->type > CS_OPT_DOUBLE ||
                (o->type == CS_OPT_ENUM && !o->choices)) {
                cs_err_set(err, CS_ERR_FATAL, "option '%s' has an invalid declaration", o->name);
                goto fail;
            }
            cfg->vals[cfg->nvals++].opt = o;
        }
    }
    return cfg;
fail:
    cs_config_destroy(cfg);
    return NULL;
}

void cs_config_destroy(cs_config_t *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->nvals; i++)
        free(cfg->vals[i].text);
    for (int i = 0; i < cfg->nargs; i++)
        free(cfg->args[i]);
    free(cfg->args);
    cs_config_props_free(cfg->kprops);
    free(cfg->vals);
    free(cfg->program);
    free(cfg->usage);
    free(cfg);
}

static const char *env_lookup(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (char *const *e = envp; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static int load_file(cs_config_t *cfg, const char *path, cs_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    const char *key;
    json_t *value;
    int rc = -1;

    if (!root)
        return cs_err_set_field(err, CS_ERR_FATAL, "config", "config file %s: %s (line %d)", path,
                                jerr.text, jerr.line);
    if (!json_is_object(root)) {
        cs_err_set_field(err, CS_ERR_FATAL, "config", "config file %s: not a JSON object", path);
        goto out;
    }
    json_object_foreach(root, key, value)
    {
        struct val *v = NULL;
        char where[512];
        char text[64];
        const char *t = text;

        for (int i = 0; i < cfg->nvals && !v; i++) {
            char jn[128];

            json_name(cfg->vals[i].opt->name, jn, sizeof(jn));
            if (!strcmp(jn, key))
                v = &cfg->vals[i];
        }
        if (!v || !strcmp(v->opt->name, "config")) {
            cs_err_set_field(err, CS_ERR_FATAL, "config", "config file %s: unknown key '%s'", path,
                             key);
            goto out;
        }
        snprintf(where, sizeof(where), "config file %s: key '%s'", path, key);
        if (json_is_string(value))
            t = json_string_value(value);
        else if (json_is_integer(value))
            snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        else if (json_is_real(value))
            snprintf(text, sizeof(text), "%.17g", json_real_value(value));
        else if (json_is_boolean(value))
            t = json_is_true(value) ? "true" : "false";
        else {
            cs_err_set_field(err, CS_ERR_FATAL, v->opt->name,
                             "%s: must be a string, number or boolean", where);
            goto out;
        }
        if (set_value(v, t, SRC_FILE, where, err) < 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ---- secrets ---- */

/* A secret file must be a file (not a directory) that nobody else can read or change: the mode of a
 * regular file says who else can read the secret (a pipe's does not). */
static int secret_file_check(int fd, const char *path, const char *what, cs_err_t *err)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return cs_err_set_field(err, CS_ERR_FATAL, what, "%s %s: %s", what, path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return cs_err_set_field(err, CS_ERR_FATAL, what, "%s %s: is a directory", what, path);
    if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXO | S_IWGRP)))
        return cs_err_set_field(
            err, CS_ERR_FATAL, what,
            "%s %s: mode %04o lets %s it; chmod 600 (or 640 for a group of readers)", what, path,
            (unsigned)(st.st_mode & 07777),
            (st.st_mode & S_IRWXO) ? "other users read or change" : "its group change");
    return 0;
}

/* Reads all of fd into buf (CS_CONFIG_SECRET_FILE_MAX + 1 bytes), *len bytes read so far: at most
 * CS_CONFIG_SECRET_FILE_MAX bytes of text without a NUL byte. */
static int secret_file_slurp(int fd, const char *path, const char *what, char *buf, size_t *len,
                             cs_err_t *err)
{
    for (;;) {
        ssize_t n = read(fd, buf + *len, CS_CONFIG_SECRET_FILE_MAX + 1 - *len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cs_err_set_field(err, CS_ERR_FATAL, what, "%s %s: cannot read: %s", what, path,
                                    strerror(errno));
        if (n == 0)
            break;
        *len += (size_t)n;
        if (*len > CS_CONFIG_SECRET_FILE_MAX)
            return cs_err_set_field(err, CS_ERR_FATAL, what, "%s %s: larger than %d bytes", what,
                                    path, CS_CONFIG_SECRET_FILE_MAX);
    }
    if (memchr(buf, '\0', *len))
        return cs_err_set_field(err, CS_ERR_FATAL, what,
                                "%s %s: holds a NUL byte (not a text file)", what, path);
    buf[*len] = '\0';
    return 0;
}

int cs_config_secret_file_read(const char *path, const char *what, char **text, cs_err_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    int fd = -1;
    int rc = -1;

    *text = NULL;
    if (!path || !*path)
        return cs_err_set_field(err, CS_ERR_FATAL, what, "%s: no file named", what);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cs_err_set_field(err, CS_ERR_FATAL, what, "%s %s: cannot open: %s", what, path,
                                strerror(errno));
    if (secret_file_check(fd, path, what, err) < 0)
        goto out;
    buf = cs_mem_alloc(CS_CONFIG_SECRET_FILE_MAX + 1);
    if (secret_file_slurp(fd, path, what, buf, &len, err) < 0)
        goto out;
    *text = buf;
    buf = NULL;
    rc = 0;
out:
    if (buf) {
        memset(buf, 0, len);
        free(buf);
    }
    close(fd);
    return rc;
}

bool cs_config_prop_is_secret(const char *name)
{
    char low[128];
    size_t i;

    for (i = 0; name[i] && i + 1 < sizeof(low); i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    return strstr(low, "password") || strstr(low, "secret") || !strcmp(low, "ssl.key.pem") ||
           !strcmp(low, "sasl.oauthbearer.config");
}

void cs_config_props_free(char **props)
{
    if (!props)
        return;
    for (char **p = props; *p; p++) {
        memset(*p, 0, strlen(*p));
        free(*p);
    }
    free(props);
}

static bool prop_name_char(int c)
{
    return isalnum(c) || c == '.' || c == '_' || c == '-';
}

static bool prop_space(int c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

/*
 * One line [b, e) of a properties file: 0 for a blank or comment line, 1 with *entry (allocated,
 * "name=value", blanks around '=' and leading the value dropped) and *name_len, -1 on a line
 * that is not name=value. Messages never show the line: it may be a password.
 */
static int prop_line(const char *b, const char *e, const char *origin, int lineno, char **entry,
                     size_t *name_len, cs_err_t *err)
{
    const char *name, *name_end, *value;

    if (e > b && e[-1] == '\r')
        e--;
    while (b < e && prop_space(*b))
        b++;
    if (b == e || *b == '#' || *b == '!')
        return 0;
    if (e[-1] == '\\')
        return cs_err_set_field(err, CS_ERR_FATAL, "kafka-props-file",
                                "%s:%d: a line ending in '\\' (a continuation) is not supported",
                                origin, lineno);
    name = b;
    while (b < e && prop_name_char((unsigned char)*b))
        b++;
    name_end = b;
    while (b < e && prop_space(*b))
        b++;
    if (name_end == name || b == e || *b != '=')
        return cs_err_set_field(err, CS_ERR_FATAL, "kafka-props-file",
                                "%s:%d: expected name=value (a name of letters, digits, '.', '_' "
                                "and '-', then '=')",
                                origin, lineno);
    value = b + 1;
    while (value < e && prop_space(*value))
        value++;
    *name_len = (size_t)(name_end - name);
    *entry = cs_mem_alloc(*name_len + (size_t)(e - value) + 2);
    sprintf(*entry, "%.*s=%.*s", (int)*name_len, name, (int)(e - value), value);
    return 1;
}

/*
 * Whether entry (its name name_len bytes) may join the n props read so far (read on lines[]):
 * not a name set twice, a value librdkafka takes (checked on scratch). -1 with err otherwise;
 * a secret's value never reaches the message.
 */
static int prop_check(rd_kafka_conf_t *scratch, char **props, const int *lines, int n, char *entry,
                      size_t name_len, const char *origin, int lineno, cs_err_t *err)
{
    const char *what = "kafka-props-file";
    char errstr[512];
    int rc = 0;

    for (int i = 0; i < n; i++)
        if (!strncmp(props[i], entry, name_len + 1))
            return cs_err_set_field(err, CS_ERR_FATAL, what,
                                    "%s:%d: '%.*s' is set twice (first on line %d)", origin, lineno,
                                    (int)name_len, entry, lines[i]);
    entry[name_len] = '\0';
    if (rd_kafka_conf_set(scratch, entry, entry + name_len + 1, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        if (cs_config_prop_is_secret(entry))
            rc = cs_err_set_field(err, CS_ERR_FATAL, what,
                                  "%s:%d: librdkafka refuses the value of '%s' (not shown)", origin,
                                  lineno, entry);
        else
            rc = cs_err_set_field(err, CS_ERR_FATAL, what, "%s:%d: librdkafka refuses '%s': %s",
                                  origin, lineno, entry, errstr);
    }
    entry[name_len] = '=';
    return rc;
}

char **cs_config_props_parse(const char *text, const char *origin, cs_err_t *err)
{
    rd_kafka_conf_t *scratch = rd_kafka_conf_new(); /* librdkafka checks each property */
    char **props = cs_mem_calloc(1, sizeof(*props));
    int *lines = NULL;
    int n = 0, lineno = 0;
    const char *p = text ? text : "";

    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char *entry = NULL;
        size_t name_len = 0;
        int rc;

        lineno++;
        rc = prop_line(p, p + len, origin, lineno, &entry, &name_len, err);
        p = eol ? eol + 1 : p + len;
        if (rc == 0)
            continue;
        if (rc < 0)
            goto fail;
        if (prop_check(scratch, props, lines, n, entry, name_len, origin, lineno, err) < 0) {
            memset(entry, 0, strlen(entry)); /* it may hold a secret */
            free(entry);
            goto fail;
        }
        props = cs_mem_realloc(props, sizeof(*props) * ((size_t)n + 2));
        lines = cs_mem_realloc(lines, sizeof(*lines) * ((size_t)n + 1));
        lines[n] = lineno;
        props[n++] = entry;
        props[n] = NULL;
    }
    rd_kafka_conf_destroy(scratch);
    free(lines);
    return props;
fail:
    rd_kafka_conf_destroy(scratch);
    free(lines);
    cs_config_props_free(props);
    return NULL;
}

/* Appends the entries of an inline list ("a=1,b=2", or one a line when it holds a newline). */
static void props_append_inline(char ***props, const char *text)
{
    const char *sep = strchr(text, '\n') ? "\n" : ",";
    char *copy = cs_mem_strdup(text), *save = NULL;
    int n = 0;

    while ((*props)[n])
        n++;
    for (char *kv = strtok_r(copy, sep, &save); kv; kv = strtok_r(NULL, sep, &save)) {
        char **grown = cs_mem_realloc(*props, sizeof(**props) * ((size_t)n + 2));

        *props = grown;
        (*props)[n++] = cs_mem_strdup(kv);
        (*props)[n] = NULL;
    }
    memset(copy, 0, strlen(text));
    free(copy);
}

/*
 * Step 5 of cs_config_load: pg-dsn-file replaces pg-dsn when its source ranks higher (the same
 * source setting both is refused); kafka-props-file's entries go before --kafka-props' in
 * cfg->kprops and, for a program that declares kafka-props, in its text.
 */
/*
 * pg-dsn-file, when set (not by default) by a source that beats pg-dsn's: its one line becomes
 * pg-dsn. Both set by one source is refused. The text read is wiped after use.
 */
static int load_dsn_file(struct val *dsn, const struct val *dsn_file, cs_err_t *err)
{
    char where[600];
    char *text = NULL;
    size_t len;
    int rc;

    if (!dsn || !dsn_file || !dsn_file->text || dsn_file->src <= SRC_DEFAULT)
        return 0;
    if (dsn->src == dsn_file->src)
        return cs_err_set_field(err, CS_ERR_FATAL, "pg-dsn-file",
                                "pg-dsn and pg-dsn-file are both set (by the same source): "
                                "set one");
    if (dsn_file->src <= dsn->src)
        return 0;
    if (cs_config_secret_file_read(dsn_file->text, "pg-dsn-file", &text, err) < 0)
        return -1;
    len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (strchr(text, '\n')) {
        memset(text, 0, len);
        free(text);
        return cs_err_set_field(err, CS_ERR_FATAL, "pg-dsn-file",
                                "pg-dsn-file %s: holds more than one line (the DSN is "
                                "one line)",
                                dsn_file->text);
    }
    snprintf(where, sizeof(where), "pg-dsn-file %s", dsn_file->text);
    rc = set_value(dsn, text, dsn_file->src, where, err);
    memset(text, 0, len);
    free(text);
    return rc < 0 ? -1 : 0;
}

/*
 * kafka-props as what the consumer, the dead-letter producer and the anchorer read: props one
 * entry a line, so that a value from the file may hold a ','. The old text is wiped.
 */
static void kafka_props_joined(struct val *kp, const struct val *kp_file, char **props)
{
    size_t size = 1;
    char *joined, *o;

    for (char **q = props; *q; q++)
        size += strlen(*q) + 1;
    joined = o = cs_mem_alloc(size);
    *o = '\0';
    for (char **q = props; *q; q++)
        o += sprintf(o, "%s%s", q == props ? "" : "\n", *q);
    if (kp->text) {
        memset(kp->text, 0, strlen(kp->text));
        free(kp->text);
    }
    kp->text = joined;
    if (kp->src < kp_file->src)
        kp->src = kp_file->src;
}

static int load_secret_files(cs_config_t *cfg, cs_err_t *err)
{
    struct val *kp = find(cfg, "kafka-props"), *kp_file = find(cfg, "kafka-props-file");
    bool from_file = kp_file && kp_file->text && kp_file->src > SRC_DEFAULT;
    char *text = NULL;
    char **props = NULL;

    cs_config_props_free(cfg->kprops);
    cfg->kprops = NULL;
    if (load_dsn_file(find(cfg, "pg-dsn"), find(cfg, "pg-dsn-file"), err) < 0)
        return -1;
    /* kafka-props-file's entries, then kafka-props's inline ones. */
    if (from_file) {
        if (cs_config_secret_file_read(kp_file->text, "kafka-props-file", &text, err) < 0)
            return -1;
        props = cs_config_props_parse(text, kp_file->text, err);
        memset(text, 0, strlen(text));
        free(text);
        if (!props)
            return -1;
    } else {
        props = cs_mem_calloc(1, sizeof(*props));
    }
    if (kp && kp->text && *kp->text)
        props_append_inline(&props, kp->text);
    cfg->kprops = props;
    if (kp && from_file)
        kafka_props_joined(kp, kp_file, props);
    return 0;
}

/*
 * cs_config_redact: name=value lists and DSNs. A value ends at a newline when the text holds one
 * (a list from a properties file), else at a blank, ',' or '&' (inline lists, key/value DSNs, URI
 * query strings); a quoted DSN value ends at its closing quote.
 */
/* The password of a URI's userinfo (scheme://user:password@host) in text: [*pw, *pw_end), or
 * both NULL. */
static void uri_password(const char *text, const char **pw, const char **pw_end)
{
    const char *scheme = strstr(text, "://");
    const char *at = NULL;

    *pw = *pw_end = NULL;
    if (!scheme)
        return;
    for (const char *q = scheme + 3; *q && *q != '/' && *q != '?' && !isspace((unsigned char)*q);
         q++)
        if (*q == '@')
            at = q; /* the last '@' before the path ends the userinfo */
    if (at) {
        const char *colon = memchr(scheme + 3, ':', (size_t)(at - (scheme + 3)));

        if (colon) {
            *pw = colon + 1;
            *pw_end = at;
        }
    }
}

/*
 * When p starts "name=" (blanks allowed before '=') for a secret name: the end of its value
 * (one line in a multi-line text; else up to a blank, ',' or '&', or a quoted 'value'), with
 * *eq on the '='. NULL otherwise.
 */
static const char *secret_value_end(const char *p, bool lines, const char **eq)
{
    const char *b = p, *e, *v;
    char name[128];

    while (*b && prop_name_char((unsigned char)*b))
        b++;
    e = b;
    while (*e == ' ' || *e == '\t')
        e++;
    if (b == p || *e != '=')
        return NULL;
    snprintf(name, sizeof(name), "%.*s", (int)(b - p), p);
    if (!cs_config_prop_is_secret(name))
        return NULL;
    *eq = e;
    v = e + 1;
    while (!lines && (*v == ' ' || *v == '\t'))
        v++;
    if (!lines && *v == '\'') {
        for (v++; *v && *v != '\''; v++)
            if (*v == '\\' && v[1])
                v++;
        if (*v)
            v++;
    } else {
        while (*v && (lines ? *v != '\n' : !strchr(" \t\n,&", *v)))
            v++;
    }
    return v;
}

/* Appends c to out[size] at *o when there is room (one byte kept for the NUL). */
static void put_char(char *out, size_t size, size_t *o, char c)
{
    if (*o + 1 < size)
        out[(*o)++] = c;
}

static void put_stars(char *out, size_t size, size_t *o)
{
    for (const char *r = "***"; *r; r++)
        put_char(out, size, o, *r);
}

char *cs_config_redact(const char *text, char *out, size_t size)
{
    bool lines = strchr(text, '\n') != NULL;
    const char *pw, *pw_end;
    size_t o = 0;

    if (!size)
        return out;
    uri_password(text, &pw, &pw_end);
    for (const char *p = text; *p;) {
        const char *eq = NULL, *v;

        if (p == pw) {
            put_stars(out, size, &o);
            p = pw_end;
            continue;
        }
        /* A secret property where a name may start: the name and '=' kept, the value not. */
        if ((p == text || strchr(" \t\n,&?;", p[-1])) &&
            (v = secret_value_end(p, lines, &eq)) != NULL) {
            for (const char *q = p; q <= eq; q++)
                put_char(out, size, &o, *q);
            put_stars(out, size, &o);
            p = v;
            continue;
        }
        put_char(out, size, &o, *p);
        p++;
    }
    out[o] = '\0';
    return out;
}

void cs_config_accept_args(cs_config_t *cfg, int max_args)
{
    cfg->max_args = max_args < 0 ? CS_CONFIG_ARGS_ANY : max_args;
}

/* Keeps a positional argument, or refuses it when the program takes no more. */
static int add_arg(cs_config_t *cfg, const char *a, cs_err_t *err)
{
    char **args;

    if (cfg->max_args != CS_CONFIG_ARGS_ANY && cfg->nargs >= cfg->max_args)
        return cs_err_set(err, CS_ERR_FATAL, "unexpected argument '%s' (see --help)", a);
    args = cs_mem_realloc(cfg->args, sizeof(*args) * ((size_t)cfg->nargs + 1));
    cfg->args = args;
    cfg->args[cfg->nargs++] = cs_mem_strdup(a);
    return 0;
}

/* Step 1 of cs_config_load: the defaults. A default that does not validate is a bug in the table.
 */
static int load_defaults(cs_config_t *cfg, cs_err_t *err)
{
    char where[160];

    for (int i = 0; i < cfg->nvals; i++) {
        struct val *v = &cfg->vals[i];

        if (v->opt->def) {
            snprintf(where, sizeof(where), "default of --%s", v->opt->name);
            if (set_value(v, v->opt->def, SRC_DEFAULT, where, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* Copies the option name of the flag a ("--name" or "--name=value") into name. */
static void flag_name(const char *a, const char *eq, char *name, size_t size)
{
    snprintf(name, size, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)), a + 2);
}

/*
 * The config file named by --config or CS_CONFIG (flags win), or NULL. The flags are walked as
 * load_flags walks them: a word another option takes as its value names no file
 * ("--group --config=x" is the group "--config=x"), and neither ends the options ("--group --
 * --config=x" names x).
 */
static const char *config_file_named(const cs_config_t *cfg, int argc, char *const *argv,
                                     char *const *envp)
{
    const char *file = env_lookup(envp, "CS_CONFIG");

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        const char *value;
        char name[128];
        struct val *v;

        if (!strcmp(a, "--"))
            break;
        if (a[0] != '-' || a[1] != '-')
            continue; /* a positional argument, or refused in load_flags */
        flag_name(a, eq, name, sizeof(name));
        v = find(cfg, name);
        if (!v)
            continue; /* --no-<bool> takes no value; anything else is refused in load_flags */
        value = eq ? eq + 1 : NULL;
        if (!eq && v->opt->type != CS_OPT_BOOL && i + 1 < argc)
            value = argv[++i];
        if (value && !strcmp(name, "config"))
            file = value;
    }
    return file;
}

/* Step 3 of cs_config_load: the environment. */
static int load_env(cs_config_t *cfg, char *const *envp, cs_err_t *err)
{
    for (int i = 0; i < cfg->nvals; i++) {
        struct val *v = &cfg->vals[i];
        char name[128];
        const char *text;

        env_name(v->opt->name, name, sizeof(name));
        text = env_lookup(envp, name);
        if (text && set_value(v, text, SRC_ENV, name, err) < 0)
            return -1;
    }
    return 0;
}

/*
 * Sets the option of the flag argv[*i] ("--name", "--name=value", "--name value" or
 * "--no-<bool>"), advancing *i past a value taken from the next word.
 */
static int load_flag(cs_config_t *cfg, int argc, char *const *argv, int *i, cs_err_t *err)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    char name[128];
    char where[160];
    struct val *v;
    const char *text;

    flag_name(a, eq, name, sizeof(name));
    v = find(cfg, name);
    if (!v && !strncmp(name, "no-", 3) && !eq) {
        v = find(cfg, name + 3);
        if (v && v->opt->type == CS_OPT_BOOL) {
            snprintf(where, sizeof(where), "--%s", name);
            return set_value(v, "false", SRC_FLAG, where, err);
        }
        v = NULL;
    }
    if (!v)
        return cs_err_set_field(err, CS_ERR_FATAL, name, "unknown option '--%s' (see --help)",
                                name);
    snprintf(where, sizeof(where), "--%s", name);
    if (eq)
        text = eq + 1;
    else if (v->opt->type == CS_OPT_BOOL)
        text = "true";
    else if (*i + 1 < argc)
        text = argv[++*i];
    else
        return cs_err_set_field(err, CS_ERR_FATAL, name, "%s: a value is required", where);
    return set_value(v, text, SRC_FLAG, where, err);
}

/* Step 4 of cs_config_load: the flags and positional arguments; 1 after --help. */
static int load_flags(cs_config_t *cfg, int argc, char *const *argv, cs_err_t *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++)
                if (add_arg(cfg, argv[i], err) < 0)
                    return -1;
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cs_config_usage(cfg, stdout);
            return 1;
        }
        if (a[0] == '-' && a[1] != '-' && a[1] != '\0') /* "-" alone is an argument (stdin) */
            return cs_err_set_field(err, CS_ERR_FATAL, a, "unknown option '%s' (see --help)", a);
        if (a[0] != '-' || a[1] == '\0') {
            if (add_arg(cfg, a, err) < 0)
                return -1;
            continue;
        }
        if (load_flag(cfg, argc, argv, &i, err) < 0)
            return -1;
    }
    return 0;
}

/* Step 6 of cs_config_load: every required option has a value. */
static int check_required(const cs_config_t *cfg, cs_err_t *err)
{
    for (int i = 0; i < cfg->nvals; i++) {
        const struct val *v = &cfg->vals[i];

        if ((v->opt->flags & CS_OPT_REQUIRED) && !v->text) {
            char name[128];

            env_name(v->opt->name, name, sizeof(name));
            return cs_err_set_field(err, CS_ERR_FATAL, v->opt->name,
                                    "%s is required: set %s or pass --%s", v->opt->name, name,
                                    v->opt->name);
        }
    }
    return 0;
}

int cs_config_load(cs_config_t *cfg, int argc, char *const *argv, char *const *envp, cs_err_t *err)
{
    int rc;

    cs_err_clear(err);
    /* 1. Defaults. */
    if (load_defaults(cfg, err) < 0)
        return -1;
    /* 2. The config file. */
    if (find(cfg, "config")) {
        const char *file = config_file_named(cfg, argc, argv, envp);

        if (file && *file && load_file(cfg, file, err) < 0)
            return -1;
    }
    /* 3. The environment; 4. flags (which win over both). */
    if (load_env(cfg, envp, err) < 0)
        return -1;
    rc = load_flags(cfg, argc, argv, err);
    if (rc != 0)
        return rc;
    /* 5. The secrets files, which stand for pg-dsn and add to kafka-props. */
    if (load_secret_files(cfg, err) < 0)
        return -1;
    /* 6. Required options. */
    return check_required(cfg, err);
}

const char *const *cs_config_kafka_props(const cs_config_t *cfg)
{
    return cfg->kprops ? (const char *const *)cfg->kprops : no_props;
}

static struct val *must_find(const cs_config_t *cfg, const char *name, cs_opt_type_t type)
{
    struct val *v = find(cfg, name);

    if (!v || (v->opt->type != type && !(type == CS_OPT_STRING && v->opt->type == CS_OPT_ENUM))) {
        fprintf(stderr, "%s: internal error: option '%s' is not declared with that type\n",
                cfg->program, name);
        abort();
    }
    return v;
}

const char *cs_config_str(const cs_config_t *cfg, const char *name)
{
    return must_find(cfg, name, CS_OPT_STRING)->text;
}

long long cs_config_int(const cs_config_t *cfg, const char *name)
{
    return must_find(cfg, name, CS_OPT_INT)->i;
}

double cs_config_double(const cs_config_t *cfg, const char *name)
{
    return must_find(cfg, name, CS_OPT_DOUBLE)->d;
}

bool cs_config_bool(const cs_config_t *cfg, const char *name)
{
    return must_find(cfg, name, CS_OPT_BOOL)->b;
}

bool cs_config_is_set(const cs_config_t *cfg, const char *name)
{
    struct val *v = find(cfg, name);

    return v && v->src > SRC_DEFAULT;
}

int cs_config_argc(const cs_config_t *cfg)
{
    return cfg->nargs;
}

const char *cs_config_arg(const cs_config_t *cfg, int i)
{
    return i >= 0 && i < cfg->nargs ? cfg->args[i] : NULL;
}

void cs_config_usage(const cs_config_t *cfg, FILE *out)
{
    fprintf(out,
            "usage: %s [options]%s%s\n\noptions (each also read from its environment variable "
            "and, with '_' for '-', from the --config JSON file; flags win):\n",
            cfg->program, *cfg->usage ? "\n\n" : "", cfg->usage);
    for (int i = 0; i < cfg->nvals; i++) {
        const cs_opt_t *o = cfg->vals[i].opt;
        char flag[160];
        char env[128];

        env_name(o->name, env, sizeof(env));
        if (o->type == CS_OPT_BOOL)
            snprintf(flag, sizeof(flag), "--%s", o->name);
        else
            snprintf(flag, sizeof(flag), "--%s=%s", o->name, type_word(o));
        fprintf(out, "  %-30s %-24s %s", flag, env, o->help ? o->help : "");
        if (o->type == CS_OPT_ENUM) {
            fputs(" (", out);
            for (const char *const *c = o->choices; *c; c++)
                fprintf(out, "%s%s", c == o->choices ? "" : "|", *c);
            fputc(')', out);
        }
        if ((o->type == CS_OPT_INT || o->type == CS_OPT_DOUBLE) && !(o->min == 0 && o->max == 0))
            fprintf(out, " [%g..%g]", o->min, o->max);
        if (o->def)
            fprintf(out, " (default: %s)", o->def);
        if (o->flags & CS_OPT_REQUIRED)
            fputs(" (required)", out);
        fputc('\n', out);
    }
    fprintf(out, "  %-30s %-24s %s\n", "--help", "", "print this help and exit");
}

extern char **environ;

cs_config_t *cs_config_start(const char *program, const char *usage, const cs_opt_t *own, int argc,
                             char *const *argv, int *exit_code)
{
    return cs_config_start_args(program, usage, own, 0, argc, argv, exit_code);
}

cs_config_t *cs_config_start_args(const char *program, const char *usage, const cs_opt_t *own,
                                  int max_args, int argc, char *const *argv, int *exit_code)
{
    cs_err_t err;
    cs_config_t *cfg = cs_config_new(program, usage, cs_config_common_opts, own, &err);
    cs_log_level_t level = CS_LOG_INFO;
    int rc;

    if (!cfg)
        goto fail;
    cs_config_accept_args(cfg, max_args);
    rc = cs_config_load(cfg, argc, argv, environ, &err);
    if (rc == 1) {
        cs_config_destroy(cfg);
        *exit_code = 0;
        return NULL;
    }
    if (rc < 0)
        goto fail;
    cs_log_level_parse(cs_config_str(cfg, "log-level"), &level);
    cs_log_init(program, level, NULL);
    *exit_code = 0;
    return cfg;
fail:
    fprintf(stderr, "%s: %s\n", program, err.msg);
    cs_config_destroy(cfg);
    *exit_code = 2;
    return NULL;
}
