
/*
 * CVC gateway: an export's file, made in a thread of the pool: the rows of
 * the export's query, read from PostgreSQL in single-row mode, written as
 * CSV (UTF-8 with BOM, ";", 40,00: Excel opens it as it is) or XLSX
 * (libxlsxwriter, constant memory) to an unlinked temporary file.  Memory
 * does not grow with the number of rows.
 *
 * The thread's connection is one the event loop kept from an earlier
 * export (up to cvc_export_connections a worker), or one the thread opens
 * itself; it goes back to the event loop with the task, which keeps it if
 * it is still sound.
 */


#include "ngx_http_cvc_export.h"

#include <xlsxwriter.h>


/* the idle connections of this worker */
typedef struct {
    PGconn                        **idle;
    ngx_uint_t                      nidle;
    ngx_uint_t                      max;
    ngx_log_t                      *log;
} ngx_http_cvc_export_conns_t;


static int ngx_http_cvc_export_connect(ngx_http_cvc_export_ctx_t *ex);
static void ngx_http_cvc_export_write(ngx_http_cvc_export_ctx_t *ex);
static int ngx_http_cvc_export_query(ngx_http_cvc_export_ctx_t *ex);
static void ngx_http_cvc_export_notice(void *arg, const char *message);
static ngx_int_t ngx_http_cvc_export_csv(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn, FILE *out);
static void ngx_http_cvc_export_csv_field(FILE *out, const char *s);
static ngx_int_t ngx_http_cvc_export_xlsx(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn, const char *path);
static PGresult *ngx_http_cvc_export_next(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn, int *ok);
static PGresult *ngx_http_cvc_export_row(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn);


static ngx_http_cvc_export_conns_t  ngx_http_cvc_export_conns;


ngx_int_t
ngx_http_cvc_export_conns_init(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf)
{
    ngx_http_cvc_export_conns.max = mcf->export_connections;
    ngx_http_cvc_export_conns.log = cycle->log;

    if (mcf->export_connections == 0) {
        return NGX_OK;
    }

    ngx_http_cvc_export_conns.idle = ngx_pcalloc(cycle->pool,
                                   mcf->export_connections * sizeof(PGconn *));
    if (ngx_http_cvc_export_conns.idle == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the idle connections are closed; a running export's ends with the worker */

void
ngx_http_cvc_export_conns_close(void)
{
    while (ngx_http_cvc_export_conns.nidle > 0) {
        PQfinish(ngx_http_cvc_export_conns.idle
                 [--ngx_http_cvc_export_conns.nidle]);
    }
}


/* an idle connection, if one is still sound; NULL: the thread connects */

PGconn *
ngx_http_cvc_export_conn_take(void)
{
    PGconn                       *conn;
    ngx_http_cvc_export_conns_t  *conns = &ngx_http_cvc_export_conns;

    while (conns->nidle > 0) {
        conn = conns->idle[--conns->nidle];

        /*
         * What the server sent meanwhile, read without waiting: a closed
         * connection is dropped here when its end was read; else the
         * thread's empty query finds it.
         */

        if (PQconsumeInput(conn)
            && PQstatus(conn) == CONNECTION_OK
            && PQtransactionStatus(conn) == PQTRANS_IDLE)
        {
            return conn;
        }

        ngx_log_error(NGX_LOG_INFO, conns->log, 0,
                      "cvc export: an idle connection was lost: %s",
                      PQerrorMessage(conn));

        PQfinish(conn);
    }

    return NULL;
}


/* a connection back from a thread: kept if sound and there is room */

void
ngx_http_cvc_export_conn_keep(PGconn *conn)
{
    ngx_http_cvc_export_conns_t  *conns = &ngx_http_cvc_export_conns;

    if (PQstatus(conn) == CONNECTION_OK
        && PQtransactionStatus(conn) == PQTRANS_IDLE
        && conns->nidle < conns->max)
    {
        conns->idle[conns->nidle++] = conn;
        return;
    }

    PQfinish(conn);
}


/* in a thread: rows in, a file out */

void
ngx_http_cvc_export_work(void *data)
{
    ngx_http_cvc_export_ctx_t  *ex = data;

    ex->status = NGX_HTTP_SERVICE_UNAVAILABLE;
    ngx_cpystrn((u_char *) ex->code, (u_char *) "unavailable",
                sizeof(ex->code));
    ngx_cpystrn((u_char *) ex->error,
                (u_char *) "PostgreSQL is unavailable; retry later.",
                sizeof(ex->error));

    if (!ngx_http_cvc_export_connect(ex)) {
        return;
    }

    ex->status = 0;
    ex->code[0] = '\0';

    ngx_http_cvc_export_write(ex);
}


/* the query sent, on a kept connection or a new one: 0 when it failed */

static int
ngx_http_cvc_export_connect(ngx_http_cvc_export_ctx_t *ex)
{
    const char  *values[3];

    static const char *const  keywords[] = {
        "dbname", "fallback_application_name", NULL
    };

    /*
     * A kept connection that the server closed meanwhile fails an empty
     * query: a new one then.  (A server that stops sends a FATAL, then
     * closes: the event loop may have read only the first.)
     */

    if (ex->conn != NULL) {
        PQclear(PQexec(ex->conn, ""));

        if (PQstatus(ex->conn) == CONNECTION_OK
            && PQtransactionStatus(ex->conn) == PQTRANS_IDLE
            && ngx_http_cvc_export_query(ex))
        {
            return 1;
        }

        PQfinish(ex->conn);
        ex->conn = NULL;
    }

    /* cvc_postgres, expanded: an application_name there wins */

    values[0] = ex->conninfo;
    values[1] = "cvc export";
    values[2] = NULL;

    ex->conn = PQconnectdbParams(keywords, values, 1);

    if (ex->conn != NULL) {
        PQsetNoticeProcessor(ex->conn, ngx_http_cvc_export_notice, NULL);
    }

    if (PQstatus(ex->conn) == CONNECTION_OK && ngx_http_cvc_export_query(ex)) {
        return 1;
    }

    ngx_cpystrn((u_char *) ex->error, (u_char *) PQerrorMessage(ex->conn),
                sizeof(ex->error));
    PQfinish(ex->conn);
    ex->conn = NULL;

    return 0;
}


/*
 * The file: ex->fd and ex->size, or ex->status.  The connection goes back
 * to the event loop, which keeps it if all its results were read; else (a
 * file that failed) it is closed there.
 */

static void
ngx_http_cvc_export_write(ngx_http_cvc_export_ctx_t *ex)
{
    int         fd;
    char        path[1024];
    FILE       *out;
    ngx_int_t   rc;

    /* a folder too long for path cuts the XXXXXX: mkstemp() refuses it */

    (void) ngx_http_cvc_cstr((u_char *) path, sizeof(path),
                             "%s/cvc-export-XXXXXX", ex->dir);

    fd = mkstemp(path);

    if (fd == -1) {
        rc = NGX_ERROR;

    } else if (ex->xlsx) {

        /* libxlsxwriter writes the file by its name */

        rc = ngx_http_cvc_export_xlsx(ex, ex->conn, path);
        close(fd);
        fd = (rc == NGX_OK) ? open(path, O_RDONLY) : -1;
        unlink(path);

    } else {
        unlink(path);

        out = fdopen(dup(fd), "w");
        rc = (out != NULL) ? ngx_http_cvc_export_csv(ex, ex->conn, out)
                           : NGX_ERROR;

        if (out != NULL && fclose(out) != 0) {
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK || fd == -1) {
        if (fd != -1) {
            close(fd);
        }

        if (ex->status == 0) {
            ex->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return;
    }

    ex->fd = fd;
    ex->size = lseek(fd, 0, SEEK_END);
    ex->status = NGX_HTTP_OK;
}


/* the query, its rows one by one: 0 when the connection failed */

static int
ngx_http_cvc_export_query(ngx_http_cvc_export_ctx_t *ex)
{
    return PQsendQueryParams(ex->conn, ex->sql, ex->nparams, NULL,
                             (const char *const *) ex->params, NULL, NULL, 0)
           && PQsetSingleRowMode(ex->conn);
}


static ngx_int_t
ngx_http_cvc_export_csv(ngx_http_cvc_export_ctx_t *ex, PGconn *conn,
    FILE *out)
{
    int                           i, ok;
    char                         *v;
    int64_t                       cents;
    PGresult                     *res;
    const ngx_http_cvc_column_t  *col;

    /* the BOM and the header line */

    fputs("\xEF\xBB\xBF", out);

    for (col = ex->columns; col->name != NULL; col++) {
        fputs(col->name, out);
        fputc(col[1].name != NULL ? ';' : '\r', out);
    }

    fputc('\n', out);

    ok = 1;

    while ((res = ngx_http_cvc_export_next(ex, conn, &ok)) != NULL) {

        for (i = 0, col = ex->columns; col->name != NULL; i++, col++) {

            if (!PQgetisnull(res, 0, i)) {
                v = PQgetvalue(res, 0, i);

                if (col->cents) {
                    cents = strtoll(v, NULL, 10);
                    fprintf(out, "%s%lld,%02lld", cents < 0 ? "-" : "",
                            (long long) (llabs(cents) / 100),
                            (long long) (llabs(cents) % 100));

                } else {
                    ngx_http_cvc_export_csv_field(out, v);
                }
            }

            fputc(col[1].name != NULL ? ';' : '\r', out);
        }

        fputc('\n', out);
        ex->rows++;

        PQclear(res);
    }

    return (ok && ex->status == 0 && !ferror(out)) ? NGX_OK : NGX_ERROR;
}


/*
 * A text field, quoted when it holds a ";", a quote or a line break.  One
 * that a spreadsheet would take for a formula (=, +, -, @, a tab or a CR
 * first: OWASP's CSV injection) gets a "'" before it, and is quoted.
 */

static void
ngx_http_cvc_export_csv_field(FILE *out, const char *s)
{
    ngx_uint_t  formula;

    formula = (*s != '\0' && strchr("=+-@\t\r", *s) != NULL);

    if (!formula && strpbrk(s, ";\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }

    fputc('"', out);

    if (formula) {
        fputc('\'', out);
    }

    for ( /* void */ ; *s != '\0'; s++) {
        if (*s == '"') {
            fputc('"', out);
        }

        fputc(*s, out);
    }

    fputc('"', out);
}


static ngx_int_t
ngx_http_cvc_export_xlsx(ngx_http_cvc_export_ctx_t *ex, PGconn *conn,
    const char *path)
{
    int                           i, ok;
    PGresult                     *res;
    lxw_row_t                     row;
    lxw_format                   *bold, *money;
    lxw_workbook                 *wb;
    lxw_worksheet                *ws;
    lxw_workbook_options          options;
    const ngx_http_cvc_column_t  *col;

    ngx_memzero(&options, sizeof(lxw_workbook_options));
    options.constant_memory = LXW_TRUE;
    options.tmpdir = ex->dir;

    wb = workbook_new_opt(path, &options);
    if (wb == NULL) {
        return NGX_ERROR;
    }

    ws = workbook_add_worksheet(wb, "Opérations");
    bold = workbook_add_format(wb);
    format_set_bold(bold);
    money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0.00");

    for (i = 0, col = ex->columns; col->name != NULL; i++, col++) {
        worksheet_write_string(ws, 0, i, col->name, bold);
        worksheet_set_column(ws, i, i, col->cents ? 14 : 22, NULL);
    }

    row = 1;
    ok = 1;

    while ((res = ngx_http_cvc_export_next(ex, conn, &ok)) != NULL) {

        for (i = 0, col = ex->columns; col->name != NULL; i++, col++) {
            if (PQgetisnull(res, 0, i)) {
                continue;
            }

            if (col->cents) {
                worksheet_write_number(ws, row, i,
                                       strtoll(PQgetvalue(res, 0, i), NULL, 10)
                                       / 100.0, money);

            } else {
                worksheet_write_string(ws, row, i, PQgetvalue(res, 0, i),
                                       NULL);
            }
        }

        row++;
        ex->rows++;

        PQclear(res);
    }

    if (workbook_close(wb) != LXW_NO_ERROR) {
        return NGX_ERROR;
    }

    return (ok && ex->status == 0) ? NGX_OK : NGX_ERROR;
}


/*
 * The next row, NULL at the end.  Every result is read, an error's too, so
 * that the connection can be kept; *ok turns 0 when the query failed.
 */

static PGresult *
ngx_http_cvc_export_next(ngx_http_cvc_export_ctx_t *ex, PGconn *conn,
    int *ok)
{
    PGresult  *res;

    while ((res = ngx_http_cvc_export_row(ex, conn)) != NULL) {

        if (PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
            return res;
        }

        *ok = *ok && (PQresultStatus(res) == PGRES_TUPLES_OK);
        PQclear(res);
    }

    return NULL;
}


/*
 * The next result of the query, NULL at the end; the error of the SQL
 * function is kept in ex->status, ex->code and ex->error.
 */

static PGresult *
ngx_http_cvc_export_row(ngx_http_cvc_export_ctx_t *ex, PGconn *conn)
{
    char      *state, *code, *detail;
    PGresult  *res;

    res = PQgetResult(conn);

    if (res == NULL || PQresultStatus(res) != PGRES_FATAL_ERROR) {
        return res;
    }

    /* the function's own error (CVnnn), or PostgreSQL's */

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    code = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

    if (state != NULL && state[0] == 'C' && state[1] == 'V' && code != NULL) {
        ex->status = ngx_atoi((u_char *) state + 2, 3);
        ngx_cpystrn((u_char *) ex->code, (u_char *) code, sizeof(ex->code));
        ngx_cpystrn((u_char *) ex->error, (u_char *) (detail ? detail : code),
                    sizeof(ex->error));

    } else {

        /* a connection lost midway is a PostgreSQL that is unavailable */

        ex->status = (PQstatus(conn) == CONNECTION_BAD)
                     ? NGX_HTTP_SERVICE_UNAVAILABLE
                     : NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_cpystrn((u_char *) ex->error,
                    (u_char *) PQresultErrorMessage(res), sizeof(ex->error));
    }

    return res;
}


/*
 * PostgreSQL's notices (a FATAL before it closes an idle connection), in
 * the error log rather than on stderr: from the thread or the event loop,
 * as nginx's own thread code logs
 */

static void
ngx_http_cvc_export_notice(void *arg, const char *message)
{
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "cvc export: %s",
                  message);
}
