// Package sign signs and verifies artifacts with Ed25519 keys in DSSE
// envelopes (the Dead Simple Signing Envelope of in-toto and sigstore,
// github.com/secure-systems-lab/dsse): a signature covers the payload
// and its type (PAE), never a re-encoding of them. The payload is
// usually an in-toto Statement (Statement) naming the artifact by its
// sha256 digest, so that one envelope vouches for one exact file: an edge
// software release (docs/adr/0020-release-signatures.md) or a service
// package.
//
// Keys are kept as PEM: the private key as PKCS #8 ("PRIVATE KEY"), the
// public key as PKIX ("PUBLIC KEY"), the forms openssl and cosign read.
// A key's ID is "sha256:" and the hex SHA-256 of its PKIX encoding.
package sign
