//go:build packr_pkgconfig

package packr

// With -tags packr_pkgconfig, find an installed packr through pkg-config instead.
// shim.h lives beside this file, so its directory is still on the include path.

// #cgo CFLAGS: -I${SRCDIR}
// #cgo pkg-config: packr
import "C"
