
/*
 * CVC gateway: downloads of whole tables (the operations list, a payout's
 * reconciliation), as CSV (UTF-8 with BOM, ";", 40,00: Excel opens it as
 * it is) or XLSX (libxlsxwriter, constant memory).
 *
 * The file is made in the thread pool: the thread reads the rows from
 * PostgreSQL on a connection of its own, in single-row mode, and writes
 * them to an unlinked temporary file; the event loop then sends the file.
 * Memory does not grow with the number of rows, and the event loop never
 * waits for PostgreSQL or the disk.
 */


#include "ngx_http_cvc_module.h"

#include <xlsxwriter.h>


#define NGX_HTTP_CVC_EXPORT_PARAMS  4


typedef struct {
    /* in */
    char                           *conninfo;
    char                           *dir;
    const char                     *sql;
    const ngx_http_cvc_column_t    *columns;
    ngx_uint_t                      xlsx;
    int                             nparams;
    char                           *params[NGX_HTTP_CVC_EXPORT_PARAMS];

    /* out */
    ngx_fd_t                        fd;
    off_t                           size;
    ngx_uint_t                      rows;
    ngx_int_t                       status;     /* an HTTP status */
    char                            error[256];
    char                            code[32];
} ngx_http_cvc_export_ctx_t;


static void ngx_http_cvc_export_work(void *data);
static ngx_int_t ngx_http_cvc_export_csv(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn, FILE *out);
static ngx_int_t ngx_http_cvc_export_xlsx(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn, const char *path);
static PGresult *ngx_http_cvc_export_row(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn);
static void ngx_http_cvc_export_csv_field(FILE *out, const char *s);
static void ngx_http_cvc_export_done(void *data, void *ctx);
static char *ngx_http_cvc_export_copy(char **p, ngx_str_t *s);


/* the columns of the operations list's export, in the merchant's words */

static const ngx_http_cvc_column_t  ngx_http_cvc_pr_columns[] = {
    { "Dernière action", 0 },
    { "N° de panier", 0 },
    { "Type de paiement", 0 },
    { "Statut", 0 },
    { "Montant demandé", 1 },
    { "Montant reçu", 1 },
    { "Montant remboursé", 1 },
    { "Client", 0 },
    { "Libellé", 0 },
    { "Référence client", 0 },
    { "Identifiant vendeur", 0 },
    { "Point d'accueil", 0 },
    { "Identifiant de la demande", 0 },
    { NULL, 0 }
};


/* GET /api/v1/payment-requests/export?format=csv|xlsx&<the list's filters> */

ngx_int_t
ngx_http_cvc_pr_export(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *filters;
    ngx_str_t    params[3], format;
    const char  *bad;

    filters = ngx_http_cvc_list_filters(r, ctx, &bad);

    if (filters == NULL) {
        return ngx_http_cvc_bad_parameter(r, bad);
    }

    if (ngx_http_cvc_json_member(r->pool, filters, "format", &format)
        != NGX_OK)
    {
        return ngx_http_cvc_bad_parameter(r, "format");
    }

    if (json_object_get(filters, "limit") || json_object_get(filters, "cursor"))
    {
        return ngx_http_cvc_bad_parameter(r, json_object_get(filters, "limit")
                                             ? "limit" : "cursor");
    }

    json_object_del(filters, "format");

    ngx_http_cvc_principal_params(ctx, params);

    params[2].data = ngx_http_cvc_json_dump(r->pool, filters, &params[2].len);
    if (params[2].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_export(r, ctx,
                               "select * from cvc.pr_export($1, $2, $3::jsonb)",
                               3, params, ngx_http_cvc_pr_columns,
                               format.data[0] == 'x', "operations");
}


/* makes the file of sql's rows in the thread pool, then sends it */

ngx_int_t
ngx_http_cvc_export(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql, ngx_uint_t nparams, ngx_str_t *params,
    const ngx_http_cvc_column_t *columns, ngx_flag_t xlsx, const char *name)
{
    char                       *p;
    size_t                      size;
    ngx_uint_t                  i;
    ngx_http_cvc_task_t        *task;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_cvc_main_conf_t   *mcf;
    ngx_http_cvc_export_ctx_t  *ex;

    if (nparams > NGX_HTTP_CVC_EXPORT_PARAMS) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* the thread gets copies of all it reads, in the task itself */

    size = sizeof(ngx_http_cvc_export_ctx_t) + mcf->pg.conninfo.len + 1
           + clcf->client_body_temp_path->name.len + 1;

    for (i = 0; i < nparams; i++) {
        size += params[i].len + 1;
    }

    task = ngx_http_cvc_task_alloc(size);
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ex = task->ctx;
    p = (char *) (ex + 1);

    ex->sql = sql;
    ex->columns = columns;
    ex->xlsx = xlsx;
    ex->nparams = nparams;
    ex->fd = NGX_INVALID_FILE;
    ex->conninfo = ngx_http_cvc_export_copy(&p, &mcf->pg.conninfo);
    ex->dir = ngx_http_cvc_export_copy(&p,
                                       &clcf->client_body_temp_path->name);

    for (i = 0; i < nparams; i++) {
        ex->params[i] = ngx_http_cvc_export_copy(&p, &params[i]);
    }

    ctx->data = (void *) name;

    task->work = ngx_http_cvc_export_work;
    task->done = ngx_http_cvc_export_done;
    task->data = r;

    if (ngx_http_cvc_task_post(task) != NGX_AGAIN) {
        return ngx_http_cvc_send_unavailable(r, "The thread pool");
    }

    ctx->task = task;

    return NGX_DONE;
}


/* in a thread: rows in, a file out */

static void
ngx_http_cvc_export_work(void *data)
{
    ngx_http_cvc_export_ctx_t  *ex = data;

    int        fd;
    char       path[1024];
    FILE      *out;
    PGconn    *conn;
    ngx_int_t  rc;

    ex->status = NGX_HTTP_SERVICE_UNAVAILABLE;
    ngx_cpystrn((u_char *) ex->code, (u_char *) "unavailable",
                sizeof(ex->code));
    ngx_cpystrn((u_char *) ex->error,
                (u_char *) "PostgreSQL is unavailable; retry later.",
                sizeof(ex->error));

    conn = PQconnectdb(ex->conninfo);

    if (PQstatus(conn) != CONNECTION_OK
        || !PQsendQueryParams(conn, ex->sql, ex->nparams, NULL,
                              (const char *const *) ex->params, NULL, NULL, 0)
        || !PQsetSingleRowMode(conn))
    {
        PQfinish(conn);
        return;
    }

    ex->status = 0;
    ex->code[0] = '\0';

    ngx_snprintf((u_char *) path, sizeof(path), "%s/cvc-export-XXXXXX%Z",
                 ex->dir);

    fd = mkstemp(path);

    if (fd == -1) {
        rc = NGX_ERROR;

    } else if (ex->xlsx) {

        /* libxlsxwriter writes the file by its name */

        rc = ngx_http_cvc_export_xlsx(ex, conn, path);
        close(fd);
        fd = (rc == NGX_OK) ? open(path, O_RDONLY) : -1;
        unlink(path);

    } else {
        unlink(path);

        out = fdopen(dup(fd), "w");
        rc = (out != NULL) ? ngx_http_cvc_export_csv(ex, conn, out)
                           : NGX_ERROR;

        if (out != NULL && fclose(out) != 0) {
            rc = NGX_ERROR;
        }
    }

    PQfinish(conn);

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


static ngx_int_t
ngx_http_cvc_export_csv(ngx_http_cvc_export_ctx_t *ex, PGconn *conn,
    FILE *out)
{
    int                           i, n;
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

    while ((res = ngx_http_cvc_export_row(ex, conn)) != NULL) {

        if (PQresultStatus(res) != PGRES_SINGLE_TUPLE) {
            n = (PQresultStatus(res) == PGRES_TUPLES_OK);
            PQclear(res);

            if (!n) {
                return NGX_ERROR;
            }

            continue;
        }

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

    return (ex->status == 0 && !ferror(out)) ? NGX_OK : NGX_ERROR;
}


/* a text field, quoted when it holds a ";", a quote or a line break */

static void
ngx_http_cvc_export_csv_field(FILE *out, const char *s)
{
    if (strpbrk(s, ";\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }

    fputc('"', out);

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

    while ((res = ngx_http_cvc_export_row(ex, conn)) != NULL) {

        if (PQresultStatus(res) != PGRES_SINGLE_TUPLE) {
            ok = ok && (PQresultStatus(res) == PGRES_TUPLES_OK);
            PQclear(res);
            continue;
        }

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
        ex->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_cpystrn((u_char *) ex->error,
                    (u_char *) PQresultErrorMessage(res), sizeof(ex->error));
    }

    return res;
}


/* back on the event loop: the file, or the error */

static void
ngx_http_cvc_export_done(void *data, void *ctx)
{
    ngx_http_request_t         *r = data;
    ngx_http_cvc_export_ctx_t  *ex = ctx;

    u_char                     *p;
    ngx_int_t                   rc;
    ngx_str_t                   value;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_http_cvc_ctx_t         *cctx;
    ngx_pool_cleanup_t         *cln;
    ngx_pool_cleanup_file_t    *clnf;
    ngx_tm_t                    tm;

    cctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    cctx->task = NULL;

    if (ex->fd == NGX_INVALID_FILE) {

        if (ex->code[0] != '\0') {
            ngx_http_cvc_finalize(r, ngx_http_cvc_send_error(r, ex->status,
                                  ex->code, ex->error, NULL));
            return;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cvc: export failed: %s", ex->error);
        ngx_http_cvc_finalize(r, ngx_http_cvc_send_error(r,
                              NGX_HTTP_INTERNAL_SERVER_ERROR,
                              "internal_error", "The export failed.", NULL));
        return;
    }

    /* the descriptor is closed with the request */

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        ngx_close_file(ex->fd);
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    clnf = cln->data;
    clnf->fd = ex->fd;
    clnf->name = (u_char *) "cvc export";
    clnf->log = r->connection->log;
    cln->handler = ngx_pool_cleanup_file;

    p = ngx_pnalloc(r->pool, 128);
    if (p == NULL) {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_gmtime(ngx_time(), &tm);

    value.data = p;
    value.len = ngx_sprintf(p, "attachment; filename=\"%s-%4d%02d%02d.%s\"",
                            (char *) cctx->data, tm.ngx_tm_year,
                            tm.ngx_tm_mon, tm.ngx_tm_mday,
                            ex->xlsx ? "xlsx" : "csv") - p;

    if (ngx_http_cvc_add_header(r, "Content-Disposition", &value) != NGX_OK)
    {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ex->size;

    if (ex->xlsx) {
        ngx_str_set(&r->headers_out.content_type,
                    "application/vnd.openxmlformats-officedocument."
                    "spreadsheetml.sheet");

    } else {
        ngx_str_set(&r->headers_out.content_type, "text/csv; charset=utf-8");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->file->fd = ex->fd;
    b->file->name.data = (u_char *) "cvc export";
    b->file->name.len = sizeof("cvc export") - 1;
    b->file->log = r->connection->log;
    b->file_pos = 0;
    b->file_last = ex->size;
    b->in_file = (ex->size > 0);
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_cvc_finalize(r, rc);
        return;
    }

    ngx_http_cvc_finalize(r, ngx_http_output_filter(r, &out));
}


/* copies s at *p, NUL-terminated, and moves *p past it */

static char *
ngx_http_cvc_export_copy(char **p, ngx_str_t *s)
{
    char  *copy;

    copy = *p;
    ngx_memcpy(copy, s->data, s->len);
    copy[s->len] = '\0';
    *p += s->len + 1;

    return copy;
}
