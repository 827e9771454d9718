
/*
 * CVC gateway: CPU-heavy or blocking work (scrypt, files, SMTP) in the
 * nginx thread pool named by cvc_thread_pool.  A task is allocated outside
 * any request pool, so that a request that goes away while its task runs
 * only detaches from it; the task ends on the event loop and is freed there,
 * after its cleanup(), which runs whether a request still waits or not.
 */


#include "ngx_http_cvc_module.h"


static void ngx_http_cvc_task_run(void *data, ngx_log_t *log);
static void ngx_http_cvc_task_done(ngx_event_t *ev);
static void ngx_http_cvc_task_guard(ngx_event_t *ev);


/* the tasks posted and not run yet, and those running, by kind: the
 * threads change them too */
static ngx_atomic_t  ngx_http_cvc_tasks_queued[NGX_HTTP_CVC_NTASKS];
static ngx_atomic_t  ngx_http_cvc_tasks_running[NGX_HTTP_CVC_NTASKS];


/* a task of that kind with size bytes of zeroed ctx */

ngx_http_cvc_task_t *
ngx_http_cvc_task_alloc(ngx_uint_t kind, size_t size)
{
    ngx_thread_task_t    *thread;
    ngx_http_cvc_task_t  *task;

    thread = ngx_calloc(sizeof(ngx_thread_task_t) + sizeof(ngx_http_cvc_task_t)
                        + size, ngx_cycle->log);
    if (thread == NULL) {
        return NULL;
    }

    task = (ngx_http_cvc_task_t *) (thread + 1);

    task->kind = kind;
    task->thread = thread;
    task->ctx = (size > 0) ? (void *) (task + 1) : NULL;

    thread->ctx = task;
    thread->handler = ngx_http_cvc_task_run;
    thread->event.handler = ngx_http_cvc_task_done;
    thread->event.data = task;
    thread->event.log = ngx_cycle->log;

    return task;
}


/*
 * NGX_AGAIN: done() will be called; NGX_ERROR: the task was freed (its
 * cleanup() has run)
 */

ngx_int_t
ngx_http_cvc_task_post(ngx_http_cvc_task_t *task)
{
    ngx_http_cvc_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cvc_module);

    if (ngx_thread_task_post(mcf->thread_pool, task->thread) != NGX_OK) {
        ngx_http_cvc_task_free(task);
        return NGX_ERROR;
    }

    /*
     * A thread's work has no timer of its own, and a worker that is
     * shutting down (a reload) exits once only cancelable timers are left:
     * it would drop the request waiting for the task.  This timer, not
     * cancelable, keeps the worker until the task has ended (bounded by
     * worker_shutdown_timeout, where one is set).
     */

    (void) ngx_atomic_fetch_add(&ngx_http_cvc_tasks_queued[task->kind], 1);

    task->guard.handler = ngx_http_cvc_task_guard;
    task->guard.data = task;
    task->guard.log = ngx_cycle->log;
    ngx_add_timer(&task->guard, 60000);

    return NGX_AGAIN;
}


/* a task that has run, or was never posted: its cleanup(), its memory */

void
ngx_http_cvc_task_free(ngx_http_cvc_task_t *task)
{
    if (task->guard.timer_set) {
        ngx_del_timer(&task->guard);
    }

    if (task->cleanup != NULL) {
        task->cleanup(task->ctx);
    }

    ngx_free(task->thread);
}


void
ngx_http_cvc_task_detach(ngx_http_cvc_task_t *task)
{
    task->done = NULL;
}


static void
ngx_http_cvc_task_run(void *data, ngx_log_t *log)
{
    ngx_http_cvc_task_t  *task = data;

    (void) ngx_atomic_fetch_add(&ngx_http_cvc_tasks_queued[task->kind], -1);
    (void) ngx_atomic_fetch_add(&ngx_http_cvc_tasks_running[task->kind], 1);

    task->work(task->ctx);

    (void) ngx_atomic_fetch_add(&ngx_http_cvc_tasks_running[task->kind], -1);
}


static void
ngx_http_cvc_task_done(ngx_event_t *ev)
{
    ngx_http_cvc_task_t  *task = ev->data;

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, ev->log, 0,
                   "cvc thread: task %ui done%s", task->kind,
                   task->done ? "" : ", nobody waits for it");

    if (task->done != NULL) {
        task->done(task->data, task->ctx);
    }

    ngx_http_cvc_task_free(task);
}


/* a task that runs long: the worker keeps waiting for it */

static void
ngx_http_cvc_task_guard(ngx_event_t *ev)
{
    ngx_add_timer(ev, 60000);
}


/* for the metrics: queued[kind], running[kind] */

void
ngx_http_cvc_task_gauges(ngx_uint_t *queued, ngx_uint_t *running)
{
    ngx_uint_t  k;

    for (k = 0; k < NGX_HTTP_CVC_NTASKS; k++) {
        queued[k] = ngx_http_cvc_tasks_queued[k];
        running[k] = ngx_http_cvc_tasks_running[k];
    }
}
