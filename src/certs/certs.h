/*
 * certs: `outpost certs root|leaf` makes the root CA and the leaf
 * certificates that the relay and the tunnel use for mutual TLS (replacing
 * the original's gen-ocf-root-cert / gen-ocf-leaf-cert scripts).
 */
#ifndef OUTPOST_CERTS_H
#define OUTPOST_CERTS_H

int certs_main(int argc, char **argv);

#endif
