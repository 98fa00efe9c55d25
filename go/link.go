//go:build !packr_pkgconfig

package packr

// By default link the library from the repository's build tree (`cargo build --release`).
// The rpath lets `go test` find libpackr.so without LD_LIBRARY_PATH.

// #cgo CFLAGS: -I${SRCDIR} -I${SRCDIR}/../include
// #cgo LDFLAGS: -L${SRCDIR}/../target/release -lpackr -Wl,-rpath,${SRCDIR}/../target/release
import "C"
