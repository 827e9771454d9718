
/*
 * CVC gateway unit tests: the self-describing hashes of
 * ngx_http_cvc_hash.c.  Passwords, "$scrypt$ln=..,r=..,p=..$salt$key",
 * checked on RFC 7914's test vector, made and verified again, refused
 * when malformed; the dummy hash of unknown logins; payment codes,
 * "$hmac-sha256$<key id>$salt$mac", on a vector made apart; tokens.
 */


#include "ngx_unit.h"

/* its thread work is static */
#include "ngx_http_cvc_hash.c"


/* RFC 7914, section 12: "password", "NaCl", N = 1024, r = 8, p = 16 */
#define SALT_KEY "TmFDbA==$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWI="
#define RFC7914  "$scrypt$ln=10,r=8,p=16$" SALT_KEY

/* HMAC-SHA-256(KEY, bytes 0..15 || "123456"), its id SHA-256(KEY)[0..3] */
#define KEY      "a key of 32 bytes for unit tests"
#define CODE     "$hmac-sha256$30cdf2be$AAECAwQFBgcICQoLDA0ODw==$"           \
                 "wXtJh4ysj6M4wWeyaIwBmy44QJ/tK9+I8GDjrxZFf4g="


static ngx_int_t verify(const char *secret, const char *hash);
static ngx_int_t code(const char *key, const char *code, const char *hash);
static ngx_flag_t only(ngx_str_t *s, const char *chars);


int
main(void)
{
    u_char                    prefix[64], first[NGX_HTTP_CVC_HASH_MAX];
    u_char                    big[NGX_HTTP_CVC_SECRET_MAX + 1];
    size_t                    i;
    ngx_str_t                 key, secret, hash, h2, s;
    ngx_http_cvc_task_t      *task;
    ngx_http_cvc_hash_ctx_t   hc;

    ngx_unit_init();

    /* scrypt: RFC 7914's vector */

    is_int(verify("password", RFC7914), NGX_OK, "RFC 7914: the password");
    is_int(verify("Password", RFC7914), NGX_DECLINED, "another password");
    is_int(verify("", RFC7914), NGX_DECLINED, "an empty password");

    /* malformed hashes: an error, never a match nor a "wrong password" */

    is_int(verify("password", "$scrypt$ln=10,r=8,p=16$TmFDbA=="), NGX_ERROR,
           "no key");
    is_int(verify("password", "$scrypt$ln=10,r=8,p=16$TmFDbA==$"
                  "/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3"), NGX_ERROR,
           "a key of 30 bytes");
    is_int(verify("password", "$scrypt$ln=10,r=8,p=16$$"
                  "/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWI="), NGX_ERROR,
           "no salt");
    is_int(verify("password", "$scrypt$ln=10,r=8,p=16$TmF!bA==$"
                  "/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWI="), NGX_ERROR,
           "a salt not in base64");
    is_int(verify("password", "$scrypt$ln=10,r=8$TmFDbA==$"
                  "/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWI="), NGX_ERROR,
           "no p");
    is_int(verify("password", "$scrypt$ln=11,r=8,p=16$" SALT_KEY),
           NGX_DECLINED, "another cost: a wrong password, not an error");
    is_int(verify("password", "$scrypt$ln=0,r=8,p=16$" SALT_KEY), NGX_ERROR,
           "ln=0");
    is_int(verify("password", "$scrypt$ln=25,r=8,p=16$" SALT_KEY), NGX_ERROR,
           "ln=25");
    is_int(verify("password", "$scrypt$ln=10,r=0,p=16$" SALT_KEY), NGX_ERROR,
           "r=0");
    is_int(verify("password", "$scrypt$ln=10,r=33,p=16$" SALT_KEY),
           NGX_ERROR, "r=33");
    is_int(verify("password", "$scrypt$ln=10,r=8,p=0$" SALT_KEY), NGX_ERROR,
           "p=0");
    is_int(verify("password", "$scrypt$ln=10,r=8,p=17$" SALT_KEY), NGX_ERROR,
           "p=17");
    is_int(verify("password", "$2b$10$abcdefghijklmnopqrstuv"), NGX_ERROR,
           "a bcrypt hash");
    is_int(verify("password", ""), NGX_ERROR, "an empty hash");

    /* too long to be one of ours: refused before any work */

    ngx_memset(big, 'a', sizeof(big));
    hash.data = big;
    hash.len = NGX_HTTP_CVC_HASH_MAX + 1;
    ngx_str_set(&secret, "password");
    is_int(ngx_http_cvc_hash_verify(&task, &secret, &hash, NULL, NULL),
           NGX_ERROR, "a hash of 161 bytes");

    secret.data = big;
    secret.len = NGX_HTTP_CVC_SECRET_MAX + 1;
    is_int(ngx_http_cvc_hash_make(&task, &secret, NULL, NULL), NGX_ERROR,
           "a secret of 1025 bytes");

    /* a hash made now: today's parameters, a salt of its own, verified */

    ngx_memzero(&hc, sizeof(hc));
    hc.make = 1;
    hc.secret_len = ngx_cpymem(hc.secret, "correct horse", 13) - hc.secret;
    ngx_http_cvc_hash_work(&hc);

    (void) ngx_sprintf(prefix, "$scrypt$ln=%d,r=%d,p=%d$%Z",
                       NGX_HTTP_CVC_SCRYPT_LN, NGX_HTTP_CVC_SCRYPT_R,
                       NGX_HTTP_CVC_SCRYPT_P);
    is_int(hc.rc, NGX_OK, "made a hash");
    ok(ngx_strncmp(hc.hash, prefix, ngx_strlen(prefix)) == 0,
       "of today's parameters, %s", prefix);
    is_int(hc.hash_len, ngx_strlen(prefix) + 24 + 1 + 44,
           "a salt of 16 bytes, a key of 32, in base64");

    for (i = 0; i < sizeof(hc.secret) && hc.secret[i] == 0; i++) {
        /* void */
    }

    is_int(i, sizeof(hc.secret), "the secret is wiped once hashed");

    hc.hash[hc.hash_len] = '\0';
    is_int(verify("correct horse", (char *) hc.hash), NGX_OK,
           "the made hash verifies its password");

    ngx_memcpy(first, hc.hash, hc.hash_len + 1);
    ngx_memzero(&hc, sizeof(hc));
    hc.make = 1;
    hc.secret_len = ngx_cpymem(hc.secret, "correct horse", 13) - hc.secret;
    ngx_http_cvc_hash_work(&hc);
    ok(hc.rc == NGX_OK
       && ngx_strncmp(hc.hash, first, ngx_strlen(prefix) + 24) != 0,
       "the same password, another salt");

    /* unknown logins: the dummy hash parses, of today's cost */

    ok(ngx_strncmp(ngx_http_cvc_dummy_hash.data, prefix, ngx_strlen(prefix))
       == 0, "the dummy hash has today's parameters");
    is_int(verify("anything", (char *) ngx_http_cvc_dummy_hash.data),
           NGX_DECLINED, "the dummy hash verifies (wrong), not an error");

    /* payment codes: keyed hashes */

    ngx_str_set(&s, CODE);
    ok(ngx_http_cvc_code_keyed(&s), "a keyed hash");
    ngx_str_set(&s, "$hmac-sha256$");
    ok(!ngx_http_cvc_code_keyed(&s), "its prefix alone is not");
    ngx_str_set(&s, RFC7914);
    ok(!ngx_http_cvc_code_keyed(&s), "an scrypt hash is not");

    is_int(code(KEY, "123456", CODE), NGX_OK, "the code");
    is_int(code(KEY, "123457", CODE), NGX_DECLINED, "another code");
    is_int(code(KEY, "", CODE), NGX_DECLINED, "no code");
    is_int(code(KEY, "12345678901234567", CODE), NGX_ERROR,
           "a code of 17 bytes");
    is_int(code("another key of 32 bytes, a wrong", "123456", CODE),
           NGX_ERROR, "another key: not a wrong code");
    is_int(code(KEY, "123456", "$hmac-sha256$30CDF2BE$AAECAwQFBgcICQoLDA0ODw=="
                "$wXtJh4ysj6M4wWeyaIwBmy44QJ/tK9+I8GDjrxZFf4g="), NGX_ERROR,
           "a key id in capitals");
    is_int(code(KEY, "123456", "$hmac-sha256$30cdf2be$AAECAwQFBgcICQoLDA0ODw=="
                "$wXtJh4ysj6M4wWeyaIwBmy44QJ/tK9+I8GDjrxZFf4g"), NGX_ERROR,
           "a MAC cut short");
    is_int(code(KEY, "123456", "$hmac-sha256$30cdf2be$AAECAwQFBgcICQoLDA0O"
                "$wXtJh4ysj6M4wWeyaIwBmy44QJ/tK9+I8GDjrxZFf4g="), NGX_ERROR,
           "a salt of 12 bytes");
    is_int(code(KEY, "123456", "$hmac-sha256$30cdf2be"), NGX_ERROR,
           "a key id alone");
    is_int(code(KEY, "123456", "$hmac-sha256$30cdf2beAAECAwQFBgcICQoLDA0ODw=="
                "$wXtJh4ysj6M4wWeyaIwBmy44QJ/tK9+I8GDjrxZFf4g="), NGX_ERROR,
           "no $ after the key id");

    ngx_str_set(&key, KEY);
    ngx_str_set(&s, "654321");
    is_int(ngx_http_cvc_code_hash(ngx_unit_pool, &key, &s, &hash), NGX_OK,
           "a code hashed");
    is_int(hash.len, 13 + 8 + 1 + 24 + 1 + 44, "of the format's length");
    ok(ngx_strncmp(hash.data, "$hmac-sha256$30cdf2be$", 22) == 0,
       "with the key's id");
    is_int(ngx_http_cvc_code_verify(&key, &s, &hash), NGX_OK,
           "verified with its code");
    ngx_str_set(&s, "654322");
    is_int(ngx_http_cvc_code_verify(&key, &s, &hash), NGX_DECLINED,
           "and not with another");
    ngx_str_set(&s, "654321");
    (void) ngx_http_cvc_code_hash(ngx_unit_pool, &key, &s, &h2);
    ok(h2.len == hash.len && ngx_strncmp(h2.data, hash.data, hash.len) != 0,
       "the same code hashed again: another salt, another hash");

    /* tokens: random, in base64url or hex; stored as their SHA-256 */

    is_int(ngx_http_cvc_random(ngx_unit_pool, 32, "cvc_sk_", 0, &s), NGX_OK,
           "a secret of 32 bytes");
    ok(s.len == 7 + 43 && ngx_strncmp(s.data, "cvc_sk_", 7) == 0,
       "its prefix, 43 characters of base64url");
    s.data += 7;
    s.len -= 7;
    ok(only(&s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            "0123456789-_"), "nothing else (no padding, no + or /)");

    is_int(ngx_http_cvc_random(ngx_unit_pool, 16, "", 1, &s), NGX_OK,
           "16 bytes in hex");
    ok(s.len == 32 && only(&s, "0123456789abcdef"), "32 hex digits");
    is_int(ngx_http_cvc_random(ngx_unit_pool, 65, "", 1, &s), NGX_ERROR,
           "65 bytes: too many");

    ngx_str_set(&s, "abc");
    is_int(ngx_http_cvc_sha256_hex(ngx_unit_pool, &s, &hash), NGX_OK,
           "SHA-256");
    is_nstr(hash.data, hash.len, "ba7816bf8f01cfea414140de5dae2223"
            "b00361a396177a9cb410ff61f20015ad",
            "SHA-256(\"abc\"), FIPS 180-2");

    return done_testing();
}


/* the thread's work on (secret, hash): NGX_OK, NGX_DECLINED, NGX_ERROR */

static ngx_int_t
verify(const char *secret, const char *hash)
{
    ngx_http_cvc_hash_ctx_t  hc;

    ngx_memzero(&hc, sizeof(hc));

    hc.secret_len = ngx_strlen(secret);
    hc.hash_len = ngx_strlen(hash);
    ngx_memcpy(hc.secret, secret, hc.secret_len);
    ngx_memcpy(hc.hash, hash, hc.hash_len);

    ngx_http_cvc_hash_work(&hc);

    return hc.rc;
}


static ngx_int_t
code(const char *key, const char *code, const char *hash)
{
    ngx_str_t  k, c, h;

    k.data = (u_char *) key;
    k.len = ngx_strlen(key);
    c.data = (u_char *) code;
    c.len = ngx_strlen(code);
    h.data = (u_char *) hash;
    h.len = ngx_strlen(hash);

    return ngx_http_cvc_code_verify(&k, &c, &h);
}


static ngx_flag_t
only(ngx_str_t *s, const char *chars)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (strchr(chars, s->data[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}
