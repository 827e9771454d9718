
/*
 * CVC gateway unit tests: dates (YYYY-MM-DD, the days that exist, years
 * 2000 to 2999), RFC 3339 times, the module's own time stamps, and
 * ngx_http_cvc_cstr().
 */


#include "ngx_unit.h"


static ngx_flag_t is_date(const char *s);


int
main(void)
{
    u_char      buf[32], *p;
    ngx_uint_t  i;

    static const char  *dates[] = { "2024-02-29", "2000-02-29",
        "2023-12-31", "2000-01-01", "2999-12-31", "2023-04-30", NULL };

    static const char  *not_dates[] = {
        "2023-02-29",       /* not a leap year */
        "2100-02-29",       /* a century that is not a leap year */
        "2024-04-31", "2024-06-31", "2024-02-30",
        "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32",
        "1999-12-31", "3000-01-01",
        "2024-1-01", "2024-01-1", "2024/01/01", "2024-01-1x", "+024-01-01",
        "2024-01-01T", " 2024-01-01", "", NULL };

    static const char  *times[] = { "2020-06-24T09:33:00Z",
        "2020-06-24T09:33:00.123Z", "2020-06-24T11:33:00+02:00",
        "2020-06-24T04:33:00-05:00", "2020-06-24T09:33:00.5+00:00",
        "2024-02-29T23:59:59Z", NULL };

    static const char  *not_times[] = {
        "2020-06-24 09:33:00Z", "2020-06-24T09:33:00",
        "2020-06-24T24:00:00Z", "2020-06-24T09:60:00Z",
        "2020-13-24T09:33:00Z", "2020-00-24T09:33:00Z",
        "2020-06-00T09:33:00Z", "2020-06-32T09:33:00Z",
        "2020-06-24T09:33:00ZZ", "2020-06-24T09:33:00+0200",
        "2020-06-24T09:33:00+02", "2020-06-24T09:33:00+02:00 ",
        "2020-06-24T9:33:00Z", "2020-06-24", "2020", "", NULL };

    /* what PostgreSQL would take for another time, or refuse later */
    static const char  *not_rfc3339[] = {
        "2023-02-30T00:00:00Z",         /* no such day */
        "2020-06-24T09:33:00.Z",        /* time-secfrac is "." 1*DIGIT */
        "2020-06-24T09:33:00+24:00",    /* time-numoffset: hour 00-23 */
        "2020-06-24T09:33:00+02:60",    /* minute 00-59 */
        NULL };

    ngx_unit_init();

    /* ngx_http_cvc_is_date() */

    for (i = 0; dates[i] != NULL; i++) {
        ok(is_date(dates[i]), "date \"%s\"", dates[i]);
    }

    for (i = 0; not_dates[i] != NULL; i++) {
        ok(!is_date(not_dates[i]), "not a date \"%s\"", not_dates[i]);
    }

    ok(ngx_http_cvc_is_date((u_char *) "2024-01-01xyz", 10),
       "a date is its 10 bytes, whatever follows them");

    /* ngx_http_cvc_is_time() */

    for (i = 0; times[i] != NULL; i++) {
        ok(ngx_http_cvc_is_time(times[i]), "time \"%s\"", times[i]);
    }

    for (i = 0; not_times[i] != NULL; i++) {
        ok(!ngx_http_cvc_is_time(not_times[i]), "not a time \"%s\"",
           not_times[i]);
    }

    /* RFC 3339's ranges too: PostgreSQL would refuse a day or an offset
     * out of range later (22008: a 422 without "fields"), and read "00.Z"
     * as "00Z" */

    for (i = 0; not_rfc3339[i] != NULL; i++) {
        ok(!ngx_http_cvc_is_time(not_rfc3339[i]), "not RFC 3339 \"%s\"",
           not_rfc3339[i]);
    }

    /* ngx_http_cvc_time_json(): ms since the epoch, to the second */

    p = ngx_http_cvc_time_json(buf, 0);
    is_str(buf, "1970-01-01T00:00:00Z", "the epoch");
    is_int(p - buf, sizeof("1970-01-01T00:00:00Z"),
           "returns the end, past the NUL");

    (void) ngx_http_cvc_time_json(buf, 1592991180123LL);
    is_str(buf, "2020-06-24T09:33:00Z", "milliseconds are cut, not rounded");

    (void) ngx_http_cvc_time_json(buf, 1709251199999LL);
    is_str(buf, "2024-02-29T23:59:59Z", "a leap day, its last millisecond");

    (void) ngx_http_cvc_time_json(buf, 4107542400000LL);
    is_str(buf, "2100-03-01T00:00:00Z", "past 2038, after a non-leap 2100");

    /* ngx_http_cvc_cstr(): always NUL-terminated, cut to size - 1 */

    (void) ngx_http_cvc_cstr(buf, 8, "%s", "abcdefghij");
    is_str(buf, "abcdefg", "cut to 7 bytes and a NUL in 8");

    (void) ngx_http_cvc_cstr(buf, 4, "%s", "abc");
    is_str(buf, "abc", "an exact fit");

    buf[0] = 'x';
    (void) ngx_http_cvc_cstr(buf, 1, "%s", "abc");
    is_str(buf, "", "size 1: the NUL alone");

    (void) ngx_http_cvc_cstr(buf, sizeof(buf), "must be %uz to %uz, %L",
                             (size_t) 1, (size_t) 64, (int64_t) -42);
    is_str(buf, "must be 1 to 64, -42", "nginx's formats: %%uz, %%L");

    return done_testing();
}


static ngx_flag_t
is_date(const char *s)
{
    return ngx_http_cvc_is_date((u_char *) s, ngx_strlen(s));
}
