
/*
 * CVC gateway unit tests: TAP (see ngx_unit.h).  A check prints "ok N -
 * name" or "not ok N - name" and, where it failed, why on stderr (on
 * stdout for a TODO, as Test::More); done_testing() prints the plan.
 */


#include "ngx_unit.h"


static void ngx_unit_result(ngx_int_t pass, const char *file, int line,
    const char *fmt, va_list args);
static void ngx_unit_quote(FILE *out, const char *what, const char *s,
    size_t len);


static ngx_uint_t   ngx_unit_tests;
static ngx_uint_t   ngx_unit_failed;
static const char  *ngx_unit_todo;


ngx_int_t
ngx_unit_ok(ngx_int_t pass, const char *file, int line, const char *fmt,
    ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_unit_result(pass, file, line, fmt, args);
    va_end(args);

    return pass;
}


ngx_int_t
ngx_unit_is_int(int64_t got, int64_t want, const char *file, int line,
    const char *fmt, ...)
{
    FILE     *out;
    va_list   args;

    va_start(args, fmt);
    ngx_unit_result(got == want, file, line, fmt, args);
    va_end(args);

    if (got != want) {
        out = ngx_unit_todo ? stdout : stderr;
        fprintf(out, "#          got: %lld\n#     expected: %lld\n",
                (long long) got, (long long) want);
    }

    return got == want;
}


/* len (size_t) -1: got is NUL-terminated; NULL is a string of no one */

ngx_int_t
ngx_unit_is_str(const char *got, size_t len, const char *want,
    const char *file, int line, const char *fmt, ...)
{
    FILE        *out;
    va_list      args;
    ngx_int_t    pass;

    if (got != NULL && len == (size_t) -1) {
        len = strlen(got);
    }

    if (got == NULL || want == NULL) {
        pass = (got == NULL && want == NULL);

    } else {
        pass = (len == strlen(want) && memcmp(got, want, len) == 0);
    }

    va_start(args, fmt);
    ngx_unit_result(pass, file, line, fmt, args);
    va_end(args);

    if (!pass) {
        out = ngx_unit_todo ? stdout : stderr;
        ngx_unit_quote(out, "         got", got, len);
        ngx_unit_quote(out, "    expected", want, want ? strlen(want) : 0);
    }

    return pass;
}


static void
ngx_unit_result(ngx_int_t pass, const char *file, int line, const char *fmt,
    va_list args)
{
    char  name[512], *p;

    ngx_unit_tests++;

    /* a "#" would start a directive, a line break a line of its own */

    vsnprintf(name, sizeof(name), fmt, args);

    printf("%sok %lu - ", pass ? "" : "not ", (unsigned long) ngx_unit_tests);

    for (p = name; *p != '\0'; p++) {
        if (*p == '#') {
            fputs("\\#", stdout);

        } else {
            fputc((*p == '\n' || *p == '\r') ? ' ' : *p, stdout);
        }
    }

    if (ngx_unit_todo != NULL) {
        printf(" # TODO %s\n", ngx_unit_todo);

    } else {
        printf("\n");
    }

    if (pass) {
        return;
    }

    if (ngx_unit_todo != NULL) {
        printf("#   Failed (TODO) test at %s line %d.\n", file, line);
        return;
    }

    ngx_unit_failed++;
    fflush(stdout);
    fprintf(stderr, "#   Failed test at %s line %d.\n", file, line);
}


/* 'text' with bytes outside printable ASCII as \xNN */

static void
ngx_unit_quote(FILE *out, const char *what, const char *s, size_t len)
{
    size_t  i;

    if (s == NULL) {
        fprintf(out, "# %s: NULL\n", what);
        return;
    }

    fprintf(out, "# %s: '", what);

    for (i = 0; i < len && i < 300; i++) {
        if ((u_char) s[i] < 0x20 || (u_char) s[i] > 0x7e || s[i] == '\\') {
            fprintf(out, "\\x%02x", (u_char) s[i]);

        } else {
            fputc(s[i], out);
        }
    }

    fprintf(out, "'%s (%lu bytes)\n", i < len ? "..." : "",
            (unsigned long) len);
}


void
todo(const char *reason)
{
    ngx_unit_todo = reason;
}


void
todo_end(void)
{
    ngx_unit_todo = NULL;
}


void
diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}


int
done_testing(void)
{
    printf("1..%lu\n", (unsigned long) ngx_unit_tests);

    if (ngx_unit_pool != NULL) {
        ngx_destroy_pool(ngx_unit_pool);
        ngx_unit_pool = NULL;
    }

    return (ngx_unit_failed > 254) ? 254 : (int) ngx_unit_failed;
}
