
/*
 * CVC gateway unit tests: the CSV of an export (ngx_http_cvc_export_file.c):
 * a text field quoted where it must be and neutralised where a
 * spreadsheet would take it for a formula (OWASP's CSV injection); the
 * whole file of the operations list's columns (BOM, French headers, ";",
 * CRLF, cents as 40,00) from rows that a stand-in for libpq's
 * PQgetResult() hands out.
 */


#include "ngx_unit.h"

/* the CSV writers are static, and so are the operations list's columns */
#include "ngx_http_cvc_export_file.c"
#include "ngx_http_cvc_payment_requests.c"


#define NCOLS  13


static const char *field(const char *s);
static const char *csv(ngx_int_t *rc);
static PGresult *row(const char *const *values);


/* the results that PQgetResult() gives, in order, then NULL */
static PGresult    *results[8];
static ngx_uint_t   nresults, next;


int
main(void)
{
    ngx_int_t   rc;
    ngx_uint_t  i;

    static const char  *tests[][3] = {
        { "abc", "abc", "as it is" },
        { "", "", "empty" },
        { "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", "UTF-8, as it is" },
        { "a=b", "a=b", "= after the first character" },
        { "a;b", "\"a;b\"", "a ; quoted" },
        { "say \"hi\"", "\"say \"\"hi\"\"\"", "quotes doubled, quoted" },
        { "two\nlines", "\"two\nlines\"", "a LF quoted" },
        { "cr\r", "\"cr\r\"", "a CR quoted" },
        { "=1+2", "\"'=1+2\"", "= first: a formula, neutralised" },
        { "+33 6 12 34 56 78", "\"'+33 6 12 34 56 78\"", "+ first" },
        { "-5", "\"'-5\"", "- first" },
        { "@SUM(A1:A9)", "\"'@SUM(A1:A9)\"", "@ first" },
        { "\tx", "\"'\tx\"", "a tab first" },
        { "\rx", "\"'\rx\"", "a CR first" },
        { "=HYPERLINK(\"http://x\";\"y\")",
          "\"'=HYPERLINK(\"\"http://x\"\";\"\"y\"\")\"",
          "a formula with quotes and ;" },
    };

    static const char  *row1[NCOLS] = { "2024-06-24 11:33", "B-42",
        "Paiement imm\xc3\xa9" "diat", "Valid\xc3\xa9" "e", "4000", "3550",
        "0", "12345678901", "=cmd|' /C calc'!A0", NULL, "v;1",
        "Chez \"Paul\"", "pr_1" };

    static const char  *row2[NCOLS] = { "2024-06-25 09:00", "B-43",
        "Pr\xc3\xa9-r\xc3\xa9servation", "Annul\xc3\xa9" "e", "5", NULL,
        "-50", "a@b.fr", "", "", "", "", "pr_2" };

    ngx_unit_init();

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        is_str(field(tests[i][0]), tests[i][1], "a field: %s", tests[i][2]);
    }

    /* a whole file: two rows, then the end of the results */

    results[0] = row(row1);
    results[1] = row(row2);
    results[2] = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    nresults = 3;

    is_str(csv(&rc),
           "\xef\xbb\xbf"
           "Derni\xc3\xa8re action;N\xc2\xb0 de panier;Type de paiement;"
           "Statut;Montant demand\xc3\xa9;Montant re\xc3\xa7u;"
           "Montant rembours\xc3\xa9;Client;Libell\xc3\xa9;"
           "R\xc3\xa9" "f\xc3\xa9rence client;Identifiant vendeur;"
           "Point d'accueil;Identifiant de la demande\r\n"
           "2024-06-24 11:33;B-42;Paiement imm\xc3\xa9" "diat;"
           "Valid\xc3\xa9" "e;40,00;35,50;0,00;12345678901;"
           "\"'=cmd|' /C calc'!A0\";;\"v;1\";\"Chez \"\"Paul\"\"\";pr_1\r\n"
           "2024-06-25 09:00;B-43;Pr\xc3\xa9-r\xc3\xa9servation;"
           "Annul\xc3\xa9" "e;0,05;;-0,50;a@b.fr;;;;;pr_2\r\n",
           "the CSV: BOM, headers, \";\", CRLF, cents as 40,00, NULL empty");
    is_int(rc, NGX_OK, "made");

    /* an error midway: every result read all the same, the export failed */

    results[0] = row(row1);
    results[1] = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    results[2] = row(row2);
    results[3] = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    nresults = 4;

    (void) csv(&rc);
    is_int(rc, NGX_ERROR, "an error result fails the export");
    is_int(next, nresults, "every result was read");

    return done_testing();
}


/* libpq's, for ngx_http_cvc_export_row(): the next result of ours */

PGresult *
PQgetResult(PGconn *conn)
{
    return (next < nresults) ? results[next++] : NULL;
}


static const char *
field(const char *s)
{
    FILE    *out;
    char    *buf;
    size_t   len;

    static char  text[256];

    out = open_memstream(&buf, &len);
    ngx_http_cvc_export_csv_field(out, s);
    fclose(out);

    snprintf(text, sizeof(text), "%s", buf);
    free(buf);

    return text;
}


/* the operations list's export of the results, as CSV */

static const char *
csv(ngx_int_t *rc)
{
    FILE                       *out;
    char                       *buf;
    size_t                      len;
    ngx_http_cvc_export_ctx_t   ex;

    static char  text[4096];

    ngx_memzero(&ex, sizeof(ex));
    ex.columns = ngx_http_cvc_pr_columns;

    next = 0;
    out = open_memstream(&buf, &len);
    *rc = ngx_http_cvc_export_csv(&ex, NULL, out);
    fclose(out);

    snprintf(text, sizeof(text), "%s", buf);
    free(buf);

    if (*rc == NGX_OK && ex.rows != nresults - 1) {
        snprintf(text, sizeof(text), "(%lu rows)", (unsigned long) ex.rows);
    }

    return text;
}


/* a row of single-row mode, of text columns; a NULL value is SQL NULL */

static PGresult *
row(const char *const *values)
{
    char            names[NCOLS][8];
    PGresult       *res;
    ngx_uint_t      i;
    PGresAttDesc    attrs[NCOLS];

    res = PQmakeEmptyPGresult(NULL, PGRES_SINGLE_TUPLE);

    ngx_memzero(attrs, sizeof(attrs));

    for (i = 0; i < NCOLS; i++) {
        snprintf(names[i], sizeof(names[i]), "c%lu", (unsigned long) i);
        attrs[i].name = names[i];
        attrs[i].typid = 25;                        /* text */
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }

    PQsetResultAttrs(res, NCOLS, attrs);

    for (i = 0; i < NCOLS; i++) {
        PQsetvalue(res, 0, i, (char *) values[i],
                   values[i] ? (int) ngx_strlen(values[i]) : -1);
    }

    return res;
}
