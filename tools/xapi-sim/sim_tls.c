#include "sim_tls.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *s_pem(gnutls_datum_t *d)
{
    char *s = malloc(d->size + 1);
    if (s) {
        memcpy(s, d->data, d->size);
        s[d->size] = '\0';
    }
    gnutls_free(d->data);
    return s;
}

static int s_fill(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, int nhosts)
{
    unsigned char serial[8];
    gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
    serial[0] &= 0x7f;
    time_t now = time(NULL);
    int rc = gnutls_x509_crt_set_version(crt, 3) | gnutls_x509_crt_set_serial(crt, serial, 8) |
             gnutls_x509_crt_set_activation_time(crt, now - 3600) |
             gnutls_x509_crt_set_expiration_time(crt, now + 10L * 365 * 86400) |
             gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "xapi-sim", 8) |
             gnutls_x509_crt_set_key(crt, key) | gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
    for (int i = 0; i < nhosts && i < 254; i++) {
        unsigned char ip[4] = {127, 0, 0, (unsigned char)(i + 1)};
        rc |= gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
                                                   GNUTLS_FSAN_APPEND);
    }
    rc |= gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                               GNUTLS_FSAN_APPEND);
    return rc == 0 && gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) == 0 ? 0 : -1;
}

int sim_tls_self_signed(int nhosts, char **cert_pem, char **key_pem)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t c = {0}, k = {0};
    int rc = -1;
    *cert_pem = *key_pem = NULL;
    if (gnutls_x509_privkey_init(&key) != 0 || gnutls_x509_crt_init(&crt) != 0)
        goto cleanup;
    if (gnutls_x509_privkey_generate(key, GNUTLS_PK_RSA, 2048, 0) != 0 ||
        s_fill(crt, key, nhosts) != 0)
        goto cleanup;
    if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c) != 0 ||
        gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &k) != 0)
        goto cleanup;
    *cert_pem = s_pem(&c);
    *key_pem = s_pem(&k);
    c.data = k.data = NULL;
    rc = *cert_pem && *key_pem ? 0 : -1;
cleanup:
    gnutls_free(c.data);
    gnutls_free(k.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    return rc;
}
