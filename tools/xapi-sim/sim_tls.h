/*  sim_tls — a self-signed certificate for --tls without files (GnuTLS): RSA 2048, CN
    xapi-sim, subjectAltName 127.0.0.1..127.0.0.<n>, valid ten years.                         */
#ifndef SIM_TLS_H
#define SIM_TLS_H

/*  Makes PEM strings (caller frees both). Returns 0 or -1.                                  */
int sim_tls_self_signed(int nhosts, char **cert_pem, char **key_pem);

#endif
