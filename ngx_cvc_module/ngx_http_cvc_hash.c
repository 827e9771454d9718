
/*
 * CVC gateway: password hashing with scrypt (OpenSSL), always in the
 * thread pool, and payment codes' keyed hashes (below).  A scrypt hash is
 * self-describing,
 *
 *     $scrypt$ln=15,r=8,p=3$<base64 salt>$<base64 key>
 *
 * so that the parameters can be raised later and old hashes still verify.
 * Verifying against no hash (an unknown login) costs the same as a wrong
 * password: it verifies against a dummy hash of the current parameters.
 */


#include "ngx_http_cvc_module.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>


#define NGX_HTTP_CVC_SCRYPT_LN      15
#define NGX_HTTP_CVC_SCRYPT_R       8
#define NGX_HTTP_CVC_SCRYPT_P       3
#define NGX_HTTP_CVC_SCRYPT_MAXMEM  (64 * 1024 * 1024)
#define NGX_HTTP_CVC_SALT_LEN       16
#define NGX_HTTP_CVC_KEY_LEN        32
#define NGX_HTTP_CVC_SECRET_MAX     1024
#define NGX_HTTP_CVC_HASH_MAX       160


typedef struct {
    ngx_http_cvc_hash_handler_pt    handler;
    ngx_flag_t                      make;
    ngx_int_t                       rc;
    size_t                          secret_len;
    size_t                          hash_len;
    u_char                          secret[NGX_HTTP_CVC_SECRET_MAX];
    u_char                          hash[NGX_HTTP_CVC_HASH_MAX];
} ngx_http_cvc_hash_ctx_t;


static void ngx_http_cvc_hash_work(void *data);
static void ngx_http_cvc_hash_make_work(ngx_http_cvc_hash_ctx_t *hc);
static void ngx_http_cvc_hash_verify_work(ngx_http_cvc_hash_ctx_t *hc);
static void ngx_http_cvc_hash_done(void *data, void *ctx);
static ngx_int_t ngx_http_cvc_hash_post(ngx_http_cvc_task_t **taskp,
    ngx_str_t *secret, ngx_str_t *hash, ngx_http_cvc_hash_handler_pt handler,
    void *data);
static ngx_int_t ngx_http_cvc_scrypt(u_char *secret, size_t len, u_char *salt,
    size_t salt_len, ngx_uint_t ln, ngx_uint_t r, ngx_uint_t p, u_char *key);


/* a hash of no one's password, for the work of an unknown login */
static ngx_str_t  ngx_http_cvc_dummy_hash = ngx_string(
    "$scrypt$ln=15,r=8,p=3$Y3ZjLWR1bW15LXNhbHQtMQ==$"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");


/* hashes secret; the handler gets NGX_OK and the encoded hash */

ngx_int_t
ngx_http_cvc_hash_make(ngx_http_cvc_task_t **taskp, ngx_str_t *secret,
    ngx_http_cvc_hash_handler_pt handler, void *data)
{
    return ngx_http_cvc_hash_post(taskp, secret, NULL, handler, data);
}


/*
 * Verifies secret against hash (NULL or empty: the dummy one); the handler
 * gets NGX_OK for a match, NGX_DECLINED for none.
 */

ngx_int_t
ngx_http_cvc_hash_verify(ngx_http_cvc_task_t **taskp, ngx_str_t *secret,
    ngx_str_t *hash, ngx_http_cvc_hash_handler_pt handler, void *data)
{
    if (hash == NULL || hash->len == 0) {
        hash = &ngx_http_cvc_dummy_hash;
    }

    return ngx_http_cvc_hash_post(taskp, secret, hash, handler, data);
}


static ngx_int_t
ngx_http_cvc_hash_post(ngx_http_cvc_task_t **taskp, ngx_str_t *secret,
    ngx_str_t *hash, ngx_http_cvc_hash_handler_pt handler, void *data)
{
    ngx_int_t                 rc;
    ngx_http_cvc_task_t      *task;
    ngx_http_cvc_hash_ctx_t  *hc;

    if (secret->len > NGX_HTTP_CVC_SECRET_MAX
        || (hash != NULL && hash->len > NGX_HTTP_CVC_HASH_MAX))
    {
        return NGX_ERROR;
    }

    task = ngx_http_cvc_task_alloc(NGX_HTTP_CVC_TASK_HASH,
                                 sizeof(ngx_http_cvc_hash_ctx_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    hc = task->ctx;
    hc->handler = handler;
    hc->make = (hash == NULL);
    hc->secret_len = secret->len;
    ngx_memcpy(hc->secret, secret->data, secret->len);

    if (hash != NULL) {
        hc->hash_len = hash->len;
        ngx_memcpy(hc->hash, hash->data, hash->len);
    }

    task->work = ngx_http_cvc_hash_work;
    task->done = ngx_http_cvc_hash_done;
    task->data = data;

    rc = ngx_http_cvc_task_post(task);

    if (rc == NGX_AGAIN) {
        *taskp = task;
    }

    return rc;
}


/* in a thread: the secret is wiped as soon as it is used */

static void
ngx_http_cvc_hash_work(void *data)
{
    ngx_http_cvc_hash_ctx_t  *hc = data;

    if (hc->make) {
        ngx_http_cvc_hash_make_work(hc);

    } else {
        ngx_http_cvc_hash_verify_work(hc);
    }

    OPENSSL_cleanse(hc->secret, sizeof(hc->secret));
}


static void
ngx_http_cvc_hash_make_work(ngx_http_cvc_hash_ctx_t *hc)
{
    u_char     *p, salt[NGX_HTTP_CVC_SALT_LEN], key[NGX_HTTP_CVC_KEY_LEN];
    ngx_str_t   src, dst;

    hc->rc = NGX_ERROR;

    if (RAND_bytes(salt, sizeof(salt)) != 1
        || ngx_http_cvc_scrypt(hc->secret, hc->secret_len, salt, sizeof(salt),
                               NGX_HTTP_CVC_SCRYPT_LN, NGX_HTTP_CVC_SCRYPT_R,
                               NGX_HTTP_CVC_SCRYPT_P, key)
           != NGX_OK)
    {
        return;
    }

    p = ngx_sprintf(hc->hash, "$scrypt$ln=%d,r=%d,p=%d$",
                    NGX_HTTP_CVC_SCRYPT_LN, NGX_HTTP_CVC_SCRYPT_R,
                    NGX_HTTP_CVC_SCRYPT_P);

    src.data = salt;
    src.len = sizeof(salt);
    dst.data = p;
    ngx_encode_base64(&dst, &src);
    p += dst.len;

    *p++ = '$';

    src.data = key;
    src.len = sizeof(key);
    dst.data = p;
    ngx_encode_base64(&dst, &src);
    p += dst.len;

    hc->hash_len = p - hc->hash;
    hc->rc = NGX_OK;
}


static void
ngx_http_cvc_hash_verify_work(ngx_http_cvc_hash_ctx_t *hc)
{
    int         n;
    u_char     *p, *last, *dollar;
    u_char      salt[NGX_HTTP_CVC_HASH_MAX], want[NGX_HTTP_CVC_HASH_MAX];
    u_char      key[NGX_HTTP_CVC_KEY_LEN];
    unsigned    ln, r, par;
    ngx_str_t   src, salt_bin, want_bin;

    hc->rc = NGX_ERROR;

    /* the hash is NUL-terminated: its buffer is zeroed and never full */

    n = 0;

    if (hc->hash_len >= NGX_HTTP_CVC_HASH_MAX
        || sscanf((char *) hc->hash, "$scrypt$ln=%u,r=%u,p=%u$%n",
                  &ln, &r, &par, &n) != 3
        || n == 0
        || ln < 1 || ln > 24 || r < 1 || r > 32 || par < 1 || par > 16)
    {
        return;
    }

    p = hc->hash + n;
    last = hc->hash + hc->hash_len;

    dollar = ngx_strlchr(p, last, '$');
    if (dollar == NULL) {
        return;
    }

    src.data = p;
    src.len = dollar - p;
    salt_bin.data = salt;

    if (ngx_decode_base64(&salt_bin, &src) != NGX_OK || salt_bin.len == 0) {
        return;
    }

    src.data = dollar + 1;
    src.len = last - (dollar + 1);
    want_bin.data = want;

    if (ngx_decode_base64(&want_bin, &src) != NGX_OK
        || want_bin.len != NGX_HTTP_CVC_KEY_LEN)
    {
        return;
    }

    if (ngx_http_cvc_scrypt(hc->secret, hc->secret_len, salt, salt_bin.len,
                            ln, r, par, key)
        != NGX_OK)
    {
        return;
    }

    hc->rc = (CRYPTO_memcmp(key, want, NGX_HTTP_CVC_KEY_LEN) == 0)
             ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_cvc_scrypt(u_char *secret, size_t len, u_char *salt,
    size_t salt_len, ngx_uint_t ln, ngx_uint_t r, ngx_uint_t p, u_char *key)
{
    if (EVP_PBE_scrypt((char *) secret, len, salt, salt_len,
                       (uint64_t) 1 << ln, r, p, NGX_HTTP_CVC_SCRYPT_MAXMEM,
                       key, NGX_HTTP_CVC_KEY_LEN)
        != 1)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_cvc_hash_done(void *data, void *ctx)
{
    ngx_http_cvc_hash_ctx_t  *hc = ctx;

    ngx_str_t  hash;

    hash.data = hc->hash;
    hash.len = hc->hash_len;

    hc->handler(data, hc->rc, &hash);
}


/* bytes of randomness after prefix, in base64url or in hex */

ngx_int_t
ngx_http_cvc_random(ngx_pool_t *pool, size_t bytes, const char *prefix,
    ngx_flag_t hex, ngx_str_t *out)
{
    u_char     *p, rnd[64];
    size_t      len;
    ngx_str_t   src, dst;

    if (bytes > sizeof(rnd) || RAND_bytes(rnd, bytes) != 1) {
        return NGX_ERROR;
    }

    len = ngx_strlen(prefix);

    p = ngx_pnalloc(pool, len + 2 * bytes + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, prefix, len);

    if (hex) {
        out->data = p;
        out->len = ngx_hex_dump(p + len, rnd, bytes) - p;
        return NGX_OK;
    }

    src.data = rnd;
    src.len = bytes;
    dst.data = p + len;
    ngx_encode_base64url(&dst, &src);

    out->data = p;
    out->len = len + dst.len;

    return NGX_OK;
}


/* the SHA-256 of a token, in hex: how tokens and keys are stored */

ngx_int_t
ngx_http_cvc_sha256_hex(ngx_pool_t *pool, ngx_str_t *in, ngx_str_t *out)
{
    u_char        *p, md[EVP_MAX_MD_SIZE];
    unsigned int   len;

    if (EVP_Digest(in->data, in->len, md, &len, EVP_sha256(), NULL) != 1) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, 2 * len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    out->len = ngx_hex_dump(p, md, len) - p;

    return NGX_OK;
}


/*
 * Payment codes, as payment schemes keep PINs: a keyed hash, on the event
 * loop (a microsecond, where scrypt takes a third of a second of CPU and
 * would still not make 10^6 values safe from whoever has the database),
 *
 *     $hmac-sha256$<key id>$<base64 salt>$<base64 HMAC-SHA-256(key,
 *     salt || code)>
 *
 * with the key of cvc_payment_code_key, which PostgreSQL never sees; the
 * key id (the first 8 hex digits of its SHA-256) tells a hash of another
 * key from a wrong code.
 */

#define NGX_HTTP_CVC_CODE_PREFIX    "$hmac-sha256$"
#define NGX_HTTP_CVC_CODE_ID_LEN    8
#define NGX_HTTP_CVC_CODE_MAC_LEN   32


static ngx_int_t ngx_http_cvc_code_mac(ngx_str_t *key, u_char *salt,
    ngx_str_t *code, u_char *mac);
static void ngx_http_cvc_code_key_id(ngx_str_t *key, u_char *id);


ngx_flag_t
ngx_http_cvc_code_keyed(ngx_str_t *hash)
{
    return hash->len > sizeof(NGX_HTTP_CVC_CODE_PREFIX) - 1
           && ngx_strncmp(hash->data, NGX_HTTP_CVC_CODE_PREFIX,
                          sizeof(NGX_HTTP_CVC_CODE_PREFIX) - 1) == 0;
}


ngx_int_t
ngx_http_cvc_code_hash(ngx_pool_t *pool, ngx_str_t *key, ngx_str_t *code,
    ngx_str_t *hash)
{
    u_char     *p, salt[NGX_HTTP_CVC_SALT_LEN];
    u_char      mac[NGX_HTTP_CVC_CODE_MAC_LEN];
    ngx_str_t   src, dst;

    p = ngx_pnalloc(pool, sizeof(NGX_HTTP_CVC_CODE_PREFIX) - 1
                          + NGX_HTTP_CVC_CODE_ID_LEN + 1
                          + ngx_base64_encoded_length(sizeof(salt)) + 1
                          + ngx_base64_encoded_length(sizeof(mac)));
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (RAND_bytes(salt, sizeof(salt)) != 1
        || ngx_http_cvc_code_mac(key, salt, code, mac) != NGX_OK)
    {
        return NGX_ERROR;
    }

    hash->data = p;

    p = ngx_cpymem(p, NGX_HTTP_CVC_CODE_PREFIX,
                   sizeof(NGX_HTTP_CVC_CODE_PREFIX) - 1);
    ngx_http_cvc_code_key_id(key, p);
    p += NGX_HTTP_CVC_CODE_ID_LEN;
    *p++ = '$';

    src.data = salt;
    src.len = sizeof(salt);
    dst.data = p;
    ngx_encode_base64(&dst, &src);
    p += dst.len;
    *p++ = '$';

    src.data = mac;
    src.len = sizeof(mac);
    dst.data = p;
    ngx_encode_base64(&dst, &src);
    p += dst.len;

    hash->len = p - hash->data;

    OPENSSL_cleanse(mac, sizeof(mac));

    return NGX_OK;
}


/* NGX_OK: the code's hash; NGX_DECLINED: another code's; NGX_ERROR: not a
 * hash of this key */

ngx_int_t
ngx_http_cvc_code_verify(ngx_str_t *key, ngx_str_t *code, ngx_str_t *hash)
{
    u_char     *p, *last, id[NGX_HTTP_CVC_CODE_ID_LEN];
    u_char      salt[NGX_HTTP_CVC_SALT_LEN + 4];
    u_char      want[NGX_HTTP_CVC_CODE_MAC_LEN + 4];
    u_char      mac[NGX_HTTP_CVC_CODE_MAC_LEN];
    ngx_int_t   rc;
    ngx_str_t   src, dst;

    if (!ngx_http_cvc_code_keyed(hash)) {
        return NGX_ERROR;
    }

    p = hash->data + sizeof(NGX_HTTP_CVC_CODE_PREFIX) - 1;
    last = hash->data + hash->len;

    ngx_http_cvc_code_key_id(key, id);

    if (last - p < NGX_HTTP_CVC_CODE_ID_LEN + 1
        || ngx_memcmp(p, id, NGX_HTTP_CVC_CODE_ID_LEN) != 0
        || p[NGX_HTTP_CVC_CODE_ID_LEN] != '$')
    {
        return NGX_ERROR;
    }

    p += NGX_HTTP_CVC_CODE_ID_LEN + 1;

    /* the salt, then the MAC, each of its exact length */

    src.data = p;
    p = ngx_strlchr(p, last, '$');
    if (p == NULL) {
        return NGX_ERROR;
    }

    src.len = p - src.data;
    dst.data = salt;

    if (src.len != ngx_base64_encoded_length(NGX_HTTP_CVC_SALT_LEN)
        || ngx_decode_base64(&dst, &src) != NGX_OK
        || dst.len != NGX_HTTP_CVC_SALT_LEN)
    {
        return NGX_ERROR;
    }

    src.data = p + 1;
    src.len = last - src.data;
    dst.data = want;

    if (src.len != ngx_base64_encoded_length(NGX_HTTP_CVC_CODE_MAC_LEN)
        || ngx_decode_base64(&dst, &src) != NGX_OK
        || dst.len != NGX_HTTP_CVC_CODE_MAC_LEN)
    {
        return NGX_ERROR;
    }

    if (ngx_http_cvc_code_mac(key, salt, code, mac) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = (CRYPTO_memcmp(mac, want, sizeof(mac)) == 0) ? NGX_OK
                                                      : NGX_DECLINED;

    OPENSSL_cleanse(mac, sizeof(mac));

    return rc;
}


static ngx_int_t
ngx_http_cvc_code_mac(ngx_str_t *key, u_char *salt, ngx_str_t *code,
    u_char *mac)
{
    u_char        msg[NGX_HTTP_CVC_SALT_LEN + 16];
    unsigned int  len;

    if (code->len > sizeof(msg) - NGX_HTTP_CVC_SALT_LEN) {
        return NGX_ERROR;
    }

    ngx_memcpy(msg, salt, NGX_HTTP_CVC_SALT_LEN);
    ngx_memcpy(msg + NGX_HTTP_CVC_SALT_LEN, code->data, code->len);

    if (HMAC(EVP_sha256(), key->data, (int) key->len, msg,
             NGX_HTTP_CVC_SALT_LEN + code->len, mac, &len)
           == NULL
        || len != NGX_HTTP_CVC_CODE_MAC_LEN)
    {
        OPENSSL_cleanse(msg, sizeof(msg));
        return NGX_ERROR;
    }

    OPENSSL_cleanse(msg, sizeof(msg));

    return NGX_OK;
}


static void
ngx_http_cvc_code_key_id(ngx_str_t *key, u_char *id)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  len;

    if (EVP_Digest(key->data, key->len, md, &len, EVP_sha256(), NULL) != 1) {
        ngx_memset(md, 0, sizeof(md));
    }

    (void) ngx_hex_dump(id, md, NGX_HTTP_CVC_CODE_ID_LEN / 2);
}
