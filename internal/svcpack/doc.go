// Package svcpack is the marketplace's package format and its trust: a
// service package (docs/services.md) as one archive named by its sha256,
// the provider's signature of it, the platform's countersignature when a
// version is released, and the check an edge makes before it loads
// anything of a package (docs/adr/0026-service-packages.md). It imports
// no hub code: the edge, the command line and the hub share it.
package svcpack
